using System.Buffers;
using Switchboard.Protocol;

namespace Switchboard.Server.Transports;

/// <summary>
/// Server-sent events: each message is its own <c>data:</c> event. A JSON message never holds a
/// raw line break, so one <c>data:</c> line carries it whole.
/// </summary>
internal sealed class SseTransport(HttpContext context, TimeProvider time, bool unidirectional)
    : HttpResponseTransport(context, time, unidirectional ? "uni_sse" : "sse", unidirectional ? ClientCodec.UniJson : ClientCodec.Json, unidirectional)
{
    protected override void WriteMessage(IBufferWriter<byte> output, ReadOnlySpan<byte> message)
    {
        var prefix = "data: "u8;
        var length = prefix.Length + message.Length + 2;
        var span = output.GetSpan(length);
        prefix.CopyTo(span);
        message.CopyTo(span[prefix.Length..]);
        span[length - 2] = (byte)'\n';
        span[length - 1] = (byte)'\n';
        output.Advance(length);
    }
}
