"""The smart-protocol RPCs (``AdvertiseRefs``, ``UploadPack``, ``ReceivePack``) as generators.

The API's Smart HTTP relay maps HTTP onto them one to one:

* ``GET …/info/refs?service=S`` -> ``AdvertiseRefs(service=S)``: ``git S --stateless-rpc
  --advertise-refs``; the answer is git's output as is — the relay prepends HTTP's
  ``# service=S`` pkt-line and flush (as ``git http-backend`` does, only when the protocol is
  not v2). With ``git_protocol = "version=2"`` it is the v2 capability advertisement.
* ``POST …/git-upload-pack`` / ``…/git-receive-pack`` -> ``UploadPack`` / ``ReceivePack``:
  the request body (decompressed) streamed in ``PackRequest.data``; the first message
  names the repository, protocol and push context. git's stdout comes back in
  ``PackResponse`` messages of at most 64 KiB.

Errors before git starts (bad id or service, unknown repository, empty request stream)
are the usual ``InvalidArgument`` / ``NotFound``; once git runs, its errors are in-band.
"""

from __future__ import annotations

from collections.abc import Iterator

from gitstore.domain.errors import InvalidArgument
from gitstore.git.v1 import git_service_pb2 as pb
from gitstore.gitservice.transport.process import pump
from gitstore.gitservice.transport.push import GitTransport


def advertise_refs(
    transport: GitTransport, request: pb.AdvertiseRefsRequest
) -> Iterator[pb.PackResponse]:
    with transport.open(
        request.repository_id,
        request.service,
        context=request.context,
        git_protocol=request.git_protocol,
        stateless=True,
        advertise=True,
    ) as invocation:
        for data in pump(invocation.argv, invocation.env, (), cwd=invocation.cwd):
            yield pb.PackResponse(data=data)


def _body(first: pb.PackRequest, rest: Iterator[pb.PackRequest]) -> Iterator[bytes]:
    if first.data:
        yield first.data
    for message in rest:
        if message.data:
            yield message.data


def serve_pack(
    transport: GitTransport, service: str, requests: Iterator[pb.PackRequest]
) -> Iterator[pb.PackResponse]:
    """``git <service> --stateless-rpc`` with the request stream as its stdin."""
    first = next(requests, None)
    if first is None:
        raise InvalidArgument(
            "the request stream is empty (the first message names the repository)"
        )
    with transport.open(
        first.repository_id,
        service,
        context=first.context,
        git_protocol=first.git_protocol,
        stateless=True,
    ) as invocation:
        body = _body(first, requests)
        for data in pump(invocation.argv, invocation.env, body, cwd=invocation.cwd):
            yield pb.PackResponse(data=data)
