//! Protobuf tests, in one test binary: `kinds` (the built-in kinds) and
//! `review` (the review kinds), both random round trips and cross-checks
//! against k8s-pb.

mod kinds;
mod review;
