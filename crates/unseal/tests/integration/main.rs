//! The controller, its HTTP API and its commands, driven through the built `unseal` binary
//! and the real kube client against the API-server double (`support`). One test binary,
//! not one per file: each links kube and k8s-openapi, and four copies cost CI more disk
//! and link time than the tests take to run.

mod attacks;
mod cli;
mod commands;
mod controller;
mod correctness;
mod fuzz_corpus;
mod http_api;
mod leader;
mod support;
