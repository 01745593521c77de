"""A minimal crictl for tests/cri.rs: one CRI call on
containerd's socket, as kubelet makes it.

    client.py STUBS SOCKET CALL REQUEST-JSON

STUBS is the directory holding runtime_pb2.py and runtime_pb2_grpc.py
(generated from tests/cri/runtime.proto by grpc_tools.protoc). REQUEST-JSON
is the request message in protobuf's JSON mapping. Prints the response in
the same mapping (field names as in the .proto, defaults included, bytes
as UTF-8 text) and exits 0; on a gRPC error prints its code and details on stderr and exits 1.
"""

import json
import sys

# The calls of the ImageService; the others are the RuntimeService's.
IMAGE_SERVICE = {"ImageStatus"}


def main():
    stubs, socket, call, request = sys.argv[1:5]
    sys.path.insert(0, stubs)
    import grpc
    from google.protobuf import json_format
    import runtime_pb2
    import runtime_pb2_grpc

    req = json_format.Parse(request, getattr(runtime_pb2, call + "Request")())
    with grpc.insecure_channel("unix://" + socket) as channel:
        if call in IMAGE_SERVICE:
            stub = runtime_pb2_grpc.ImageServiceStub(channel)
        else:
            stub = runtime_pb2_grpc.RuntimeServiceStub(channel)
        try:
            resp = getattr(stub, call)(req, timeout=120)
        except grpc.RpcError as e:
            sys.stderr.write("%s: %s\n" % (e.code().name, e.details()))
            return 1
    out = json_format.MessageToDict(
        resp, preserving_proto_field_name=True, including_default_value_fields=True
    )
    # bytes (ExecSync's stdout and stderr) as text rather than base64.
    for field in resp.DESCRIPTOR.fields:
        if field.type == field.TYPE_BYTES:
            out[field.name] = getattr(resp, field.name).decode("utf-8", "replace")
    sys.stdout.write(json.dumps(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
