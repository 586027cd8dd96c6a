"""A Zipkin v1 Thrift body written by Apache Thrift's own Python binary-protocol writer, as
old Zipkin clients POST it to /api/v1/spans (Content-Type application/x-thrift): a list of
zipkincore.Span, the structs following zipkin's thrift/zipkinCore.thrift field by field.

usage: zipkin_v1_thrift.py OUT_FILE
"""

import struct
import sys

from thrift.protocol import TBinaryProtocol
from thrift.Thrift import TType
from thrift.transport import TTransport

BOOL, BYTES, I16, I32, I64, DOUBLE, STRING = range(7)


def endpoint(p, ipv4, port, service, ipv6=None):
    p.writeStructBegin("Endpoint")
    p.writeFieldBegin("ipv4", TType.I32, 1)
    p.writeI32(ipv4)
    p.writeFieldEnd()
    p.writeFieldBegin("port", TType.I16, 2)
    p.writeI16(port)
    p.writeFieldEnd()
    p.writeFieldBegin("service_name", TType.STRING, 3)
    p.writeString(service)
    p.writeFieldEnd()
    if ipv6 is not None:
        p.writeFieldBegin("ipv6", TType.STRING, 4)
        p.writeBinary(ipv6)
        p.writeFieldEnd()
    p.writeFieldStop()
    p.writeStructEnd()


def i64(p, name, fid, v):
    p.writeFieldBegin(name, TType.I64, fid)
    p.writeI64(v)
    p.writeFieldEnd()


def span(p, i):
    t0 = 1_700_000_000_000_000 + i * 10_000
    host = (0x0A000001 + i, 8080 + i, "svc-%d" % (i % 2))
    p.writeStructBegin("Span")
    i64(p, "trace_id", 1, 0x1122334455667788 + i)
    p.writeFieldBegin("name", TType.STRING, 3)
    p.writeString("get /item/%d" % i)
    p.writeFieldEnd()
    i64(p, "id", 4, 0x0102030405060700 + i + 1)
    if i > 0:
        i64(p, "parent_id", 5, 0x0102030405060700 + i)
    annotations = [(t0, "sr" if i % 2 else "cs"), (t0 + 100, "cache miss"), (t0 + 900, "ss" if i % 2 else "cr")]
    p.writeFieldBegin("annotations", TType.LIST, 6)
    p.writeListBegin(TType.STRUCT, len(annotations))
    for ts, value in annotations:
        p.writeStructBegin("Annotation")
        i64(p, "timestamp", 1, ts)
        p.writeFieldBegin("value", TType.STRING, 2)
        p.writeString(value)
        p.writeFieldEnd()
        p.writeFieldBegin("host", TType.STRUCT, 3)
        endpoint(p, *host, ipv6=bytes(15) + b"\x01" if i == 2 else None)
        p.writeFieldEnd()
        p.writeFieldStop()
        p.writeStructEnd()
    p.writeListEnd()
    p.writeFieldEnd()
    binary = [
        ("http.method", STRING, b"GET"),
        ("http.status_code", I32, struct.pack(">i", [200, 503, 404][i % 3])),
        ("retries", I16, struct.pack(">h", i)),
        ("bytes", I64, struct.pack(">q", 1 << 40)),
        ("ratio", DOUBLE, struct.pack(">d", 0.5 + i)),
        ("cached", BOOL, b"\x01" if i % 2 else b"\x00"),
        ("blob", BYTES, b"\x00\x01\xff"),
        ("short", I64, b"\x01\x02"),
        ("lc", STRING, b"worker"),
    ]
    if i == 3:
        binary.append(("error", STRING, b"boom"))
    p.writeFieldBegin("binary_annotations", TType.LIST, 8)
    p.writeListBegin(TType.STRUCT, len(binary))
    for key, kind, value in binary:
        p.writeStructBegin("BinaryAnnotation")
        p.writeFieldBegin("key", TType.STRING, 1)
        p.writeString(key)
        p.writeFieldEnd()
        p.writeFieldBegin("value", TType.STRING, 2)
        p.writeBinary(value)
        p.writeFieldEnd()
        p.writeFieldBegin("annotation_type", TType.I32, 3)
        p.writeI32(kind)
        p.writeFieldEnd()
        p.writeFieldStop()
        p.writeStructEnd()
    p.writeListEnd()
    p.writeFieldEnd()
    p.writeFieldBegin("debug", TType.BOOL, 9)
    p.writeBool(False)
    p.writeFieldEnd()
    if i != 1:
        i64(p, "timestamp", 10, t0)
        i64(p, "duration", 11, 1000)
    if i == 4:
        i64(p, "trace_id_high", 12, 0x0A0B0C0D0E0F1011)
    p.writeFieldStop()
    p.writeStructEnd()


def main():
    buf = TTransport.TMemoryBuffer()
    p = TBinaryProtocol.TBinaryProtocol(buf)
    n = 5
    p.writeListBegin(TType.STRUCT, n)
    for i in range(n):
        span(p, i)
    p.writeListEnd()
    with open(sys.argv[1], "wb") as f:
        f.write(buf.getvalue())


if __name__ == "__main__":
    main()
