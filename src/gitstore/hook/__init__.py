"""Generated gRPC code of the hook service (proto/gitstore/hook/v1) and its client."""
