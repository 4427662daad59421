//! The `[stack]` table: the stack's name, base image, bind address and wait timeout.

use std::net::IpAddr;

use crate::error::Problem;
use crate::stack::raw::RawStack;
use crate::stack::syntax::{is_image_reference, is_project_name};

use super::location::at;

/// Checks each key of `[stack]`, in the order docs/src/stack-toml.md lists them.
pub(super) fn check(stack: &RawStack, problems: &mut Vec<Problem>) {
    if !is_project_name(&stack.name) {
        problems.push(
            Problem::new(
                at("stack.name"),
                format!("`{}` is not a valid stack name", stack.name),
            )
            .hint("use lowercase letters, digits, `-` and `_`, starting with a letter or digit"),
        );
    }
    if !is_image_reference(&stack.base_image) {
        problems.push(
            Problem::new(
                at("stack.base_image"),
                format!("`{}` is not a valid image reference", stack.base_image),
            )
            .hint("write it like `debian:bookworm-slim` or `registry.example/debian@sha256:...`"),
        );
    }
    if stack.bind_address.parse::<IpAddr>().is_err() {
        problems.push(
            Problem::new(
                at("stack.bind_address"),
                format!("`{}` is not an IP address", stack.bind_address),
            )
            .hint("use `127.0.0.1` (this host only) or the address of one host interface"),
        );
    }
    if stack.wait_timeout == 0 {
        problems.push(Problem::new(
            at("stack.wait_timeout"),
            "must be at least 1 second",
        ));
    }
}
