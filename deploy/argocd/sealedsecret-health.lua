-- Argo CD health check for seal.dev/SealedSecret.
-- Healthy: Synced=True for the current generation.
-- Degraded: Synced=False for the current generation, with the reason.
-- Progressing: anything else (not yet seen by the controller, or an older generation).
local hs = {}
local generation = obj.metadata and obj.metadata.generation
local status = obj.status or {}
if status.conditions ~= nil then
  for _, condition in ipairs(status.conditions) do
    if condition.type == "Synced" then
      local observed = condition.observedGeneration or status.observedGeneration
      local current = generation == nil or observed == generation
      if current and condition.status == "True" then
        hs.status = "Healthy"
        hs.message = condition.message or "Unsealed"
        return hs
      end
      if current and condition.status == "False" then
        hs.status = "Degraded"
        hs.message = (condition.reason or "NotSynced") .. ": " .. (condition.message or "")
        return hs
      end
    end
  end
end
hs.status = "Progressing"
hs.message = "Waiting for the seal controller to unseal the current generation"
return hs
