// Command etcd is the upstream etcd server (the same entry point as etcd's own main),
// built from the published go.etcd.io/etcd/server/v3 module at the version pinned in
// ../../go.mod: the version Kubernetes tests itself with.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
