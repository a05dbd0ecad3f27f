"""Calls of the hosted API's gRPC service through the official client, clarifai-grpc, as a test
table lists them.

Usage: calls.py HOST:PORT < CALLS

CALLS holds one JSON object per line: {"key": KEY or null, "method": "PostTasks", "request":
{...}}, the request in protobuf's JSON form, and optionally "messages": N to send the request
N times in one call (as a client-streaming call would), which a unary method must refuse.
Prints one JSON line per call: the API status's code, description and details, or the gRPC
status when the call itself failed.
"""

import json
import sys

from clarifai_grpc.channel.clarifai_channel import ClarifaiChannel
from clarifai_grpc.grpc.api import service_pb2, service_pb2_grpc
from google.protobuf import json_format
import grpc

host, port = sys.argv[1].rsplit(":", 1)
channel = ClarifaiChannel.get_insecure_grpc_channel(base=host, port=int(port))
stub = service_pb2_grpc.V2Stub(channel)
raw = grpc.insecure_channel(f"{host}:{port}")

for line in sys.stdin:
    if not line.strip():
        continue
    call = json.loads(line)
    method = call["method"]
    request = json_format.ParseDict(call["request"], getattr(service_pb2, method + "Request")())
    metadata = () if call["key"] is None else (("authorization", "Key " + call["key"]),)
    try:
        if "messages" in call:
            send = raw.stream_unary(
                "/clarifai.api.V2/" + method,
                request_serializer=lambda r: r.SerializeToString(),
                response_deserializer=lambda b: b,
            )
            send(iter([request] * call["messages"]), metadata=metadata)
            print(json.dumps({"grpc": "OK"}))
            sys.stdout.flush()
            continue
        response = getattr(stub, method)(request, metadata=metadata)
        status = response.status
        print(json.dumps({"code": status.code, "description": status.description, "details": status.details}))
    except grpc.RpcError as e:
        print(json.dumps({"grpc": e.code().name, "details": e.details()}))
    sys.stdout.flush()
