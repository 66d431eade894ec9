using System.Buffers;
using Switchboard.Protocol;

namespace Switchboard.Server.Transports;

/// <summary>HTTP-streaming: each message is one line (newline-terminated JSON).</summary>
internal sealed class HttpStreamTransport(HttpContext context, TimeProvider time, bool unidirectional)
    : HttpResponseTransport(context, time, unidirectional ? "uni_http_stream" : "http_stream", unidirectional ? ClientCodec.UniJson : ClientCodec.Json, unidirectional)
{
    protected override void WriteMessage(IBufferWriter<byte> output, ReadOnlySpan<byte> message)
    {
        var span = output.GetSpan(message.Length + 1);
        message.CopyTo(span);
        span[message.Length] = (byte)'\n';
        output.Advance(message.Length + 1);
    }
}
