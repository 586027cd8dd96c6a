"""Jaeger Thrift payloads written by Apache Thrift's own Python protocol writers, as a Jaeger
client sends them: `jaeger.Batch` in the binary protocol (a collector's POST /api/traces body)
and `Agent.emitBatch` one-way calls in the binary and compact protocols (UDP packets to an
agent's 6832 and 6831 ports). The structs follow jaeger-idl's thrift/jaeger.thrift and
thrift/agent.thrift field by field.

usage: jaeger_thrift.py OUT_DIR BATCHES SPANS_PER_BATCH
writes OUT_DIR/{http,binary,compact}-<n>.bin, one batch each.
"""

import os
import sys

from thrift.protocol import TBinaryProtocol, TCompactProtocol
from thrift.Thrift import TMessageType, TType
from thrift.transport import TTransport

STRING, DOUBLE, BOOL, LONG, BINARY = range(5)
CHILD_OF, FOLLOWS_FROM = 0, 1


def write_tag(p, key, vtype, value):
    p.writeStructBegin("Tag")
    p.writeFieldBegin("key", TType.STRING, 1)
    p.writeString(key)
    p.writeFieldEnd()
    p.writeFieldBegin("vType", TType.I32, 2)
    p.writeI32(vtype)
    p.writeFieldEnd()
    if vtype == STRING:
        p.writeFieldBegin("vStr", TType.STRING, 3)
        p.writeString(value)
    elif vtype == DOUBLE:
        p.writeFieldBegin("vDouble", TType.DOUBLE, 4)
        p.writeDouble(value)
    elif vtype == BOOL:
        p.writeFieldBegin("vBool", TType.BOOL, 5)
        p.writeBool(value)
    elif vtype == LONG:
        p.writeFieldBegin("vLong", TType.I64, 6)
        p.writeI64(value)
    else:
        p.writeFieldBegin("vBinary", TType.STRING, 7)
        p.writeBinary(value)
    p.writeFieldEnd()
    p.writeFieldStop()
    p.writeStructEnd()


def write_tags(p, name, fid, tags):
    p.writeFieldBegin(name, TType.LIST, fid)
    p.writeListBegin(TType.STRUCT, len(tags))
    for t in tags:
        write_tag(p, *t)
    p.writeListEnd()
    p.writeFieldEnd()


def write_i64(p, name, fid, v):
    p.writeFieldBegin(name, TType.I64, fid)
    p.writeI64(v)
    p.writeFieldEnd()


def span_tags(i):
    tags = [
        ("span.kind", STRING, ["server", "client", "producer", "consumer", "internal"][i % 5]),
        ("http.method", STRING, "GET"),
        ("retry.ratio", DOUBLE, 0.25 * i),
        ("cache.hit", BOOL, i % 2 == 0),
        ("db.rows", LONG, -7 * i),
        ("payload", BINARY, bytes([i % 256, 0, 255])),
    ]
    if i % 4 == 0:
        tags.append(("error", BOOL, True))
        tags.append(("otel.status_description", STRING, "boom %d" % i))
    elif i % 4 == 1:
        tags.append(("http.status_code", LONG, 503))
    elif i % 4 == 2:
        tags.append(("otel.status_code", STRING, "OK"))
    return tags


def write_span(p, b, i, trace_high, trace_low, start):
    span_id = (b << 20) + i + 1
    p.writeStructBegin("Span")
    write_i64(p, "traceIdLow", 1, trace_low)
    write_i64(p, "traceIdHigh", 2, trace_high)
    write_i64(p, "spanId", 3, span_id)
    # a parent by parentSpanId, by a CHILD_OF reference, or none
    write_i64(p, "parentSpanId", 4, span_id - 1 if i % 3 == 0 and i > 0 else 0)
    p.writeFieldBegin("operationName", TType.STRING, 5)
    p.writeString("op-%d-%d" % (b, i))
    p.writeFieldEnd()
    refs = []
    if i % 3 == 1:
        refs.append((CHILD_OF, trace_low, trace_high, span_id - 1))
        refs.append((FOLLOWS_FROM, 77, 0, 4242))
    if i % 3 == 2:
        refs.append((FOLLOWS_FROM, trace_low, trace_high, span_id - 2))
    if refs:
        p.writeFieldBegin("references", TType.LIST, 6)
        p.writeListBegin(TType.STRUCT, len(refs))
        for ref_type, low, high, sid in refs:
            p.writeStructBegin("SpanRef")
            p.writeFieldBegin("refType", TType.I32, 1)
            p.writeI32(ref_type)
            p.writeFieldEnd()
            write_i64(p, "traceIdLow", 2, low)
            write_i64(p, "traceIdHigh", 3, high)
            write_i64(p, "spanId", 4, sid)
            p.writeFieldStop()
            p.writeStructEnd()
        p.writeListEnd()
        p.writeFieldEnd()
    p.writeFieldBegin("flags", TType.I32, 7)
    p.writeI32(1)
    p.writeFieldEnd()
    write_i64(p, "startTime", 8, start + i * 1000)
    write_i64(p, "duration", 9, 1500 + i)
    write_tags(p, "tags", 10, span_tags(i))
    p.writeFieldBegin("logs", TType.LIST, 11)
    p.writeListBegin(TType.STRUCT, 1)
    p.writeStructBegin("Log")
    write_i64(p, "timestamp", 1, start + i * 1000 + 10)
    write_tags(p, "fields", 2, [("event", STRING, "retry"), ("attempt", LONG, i)])
    p.writeFieldStop()
    p.writeStructEnd()
    p.writeListEnd()
    p.writeFieldEnd()
    p.writeFieldStop()
    p.writeStructEnd()


def write_batch(p, b, spans):
    p.writeStructBegin("Batch")
    p.writeFieldBegin("process", TType.STRUCT, 1)
    p.writeStructBegin("Process")
    p.writeFieldBegin("serviceName", TType.STRING, 1)
    p.writeString("thrift-svc-%d" % (b % 2))
    p.writeFieldEnd()
    write_tags(
        p,
        "tags",
        2,
        [
            ("hostname", STRING, "web-%d" % b),
            ("jaeger.version", STRING, "Python-4.8.0"),
            ("ip", STRING, "10.0.0.%d" % (b % 250)),
            ("client-uuid", LONG, 12345 + b),
        ],
    )
    p.writeFieldStop()
    p.writeStructEnd()
    p.writeFieldEnd()
    p.writeFieldBegin("spans", TType.LIST, 2)
    p.writeListBegin(TType.STRUCT, spans)
    trace_high, trace_low = 0x0102030405060708 + b, -0x1122334455667788 - b
    for i in range(spans):
        write_span(p, b, i, trace_high, trace_low, 1_700_000_000_000_000 + b * 1_000_000)
    p.writeListEnd()
    p.writeFieldEnd()
    write_i64(p, "seqNo", 3, b)
    p.writeFieldStop()
    p.writeStructEnd()


def encode(factory, b, spans, message):
    buf = TTransport.TMemoryBuffer()
    p = factory.getProtocol(buf)
    if message:
        p.writeMessageBegin("emitBatch", TMessageType.ONEWAY, b + 1)
        p.writeStructBegin("emitBatch_args")
        p.writeFieldBegin("batch", TType.STRUCT, 1)
    write_batch(p, b, spans)
    if message:
        p.writeFieldEnd()
        p.writeFieldStop()
        p.writeStructEnd()
        p.writeMessageEnd()
    return buf.getvalue()


def main():
    out, batches, spans = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    os.makedirs(out, exist_ok=True)
    binary = TBinaryProtocol.TBinaryProtocolFactory()
    compact = TCompactProtocol.TCompactProtocolFactory()
    for b in range(batches):
        for name, factory, message in (
            ("http", binary, False),
            ("binary", binary, True),
            ("compact", compact, True),
        ):
            with open(os.path.join(out, "%s-%d.bin" % (name, b)), "wb") as f:
                f.write(encode(factory, b, spans, message))


if __name__ == "__main__":
    main()
