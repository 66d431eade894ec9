using System.Buffers;
using System.IO.Pipelines;
using System.Security.Cryptography;
using System.Text;

namespace Switchboard.Server.Transports;

/// <summary>
/// Recognises a plain WebSocket upgrade of <c>GET /connection/websocket</c> (JSON, or Protobuf by subprotocol) in the first bytes of a
/// connection (RFC 6455 §4.2.1) and writes the <c>101</c> answer. Anything it does not recognise
/// with certainty is left to Kestrel's HTTP stack, which answers it as before.
/// </summary>
internal static class WebSocketHandshake
{
    /// <summary>A request head longer than this is left to Kestrel (which enforces its own limits).</summary>
    public const int MaxHeadBytes = 8 * 1024;

    private static readonly byte[] RequestLinePrefix = "GET /connection/websocket"u8.ToArray();
    private static readonly byte[] HeadEnd = "\r\n\r\n"u8.ToArray();
    /// <summary>The WebSocket subprotocol of the Protobuf client protocol.</summary>
    public const string ProtobufSubprotocol = "centrifuge-protobuf";

    private static ReadOnlySpan<byte> ProtobufSubprotocolUtf8 => "centrifuge-protobuf"u8;

    private static readonly byte[] AcceptGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"u8.ToArray();

    /// <summary>
    /// True when <paramref name="buffer"/> starts with a complete, valid upgrade request for the
    /// WebSocket endpoint; <paramref name="headLength"/> is then its length in bytes.
    /// <paramref name="origin"/> is its <c>Origin</c> header (null when absent, the usual case of
    /// non-browser clients) and <paramref name="host"/> its <c>Host</c> (read only with an origin,
    /// to compare them). <paramref name="protobuf"/> is true when the client offers the
    /// <c>centrifuge-protobuf</c> subprotocol (<see cref="ProtobufSubprotocol"/>).
    /// </summary>
    public static bool TryParse(ReadOnlySequence<byte> buffer, out int headLength, out string key, out string? origin, out string? host, out bool protobuf)
    {
        protobuf = false;
        headLength = 0;
        key = "";
        origin = null;
        host = null;
        if (buffer.Length < RequestLinePrefix.Length + HeadEnd.Length)
        {
            return false;
        }
        var window = buffer.Length > MaxHeadBytes ? buffer.Slice(0, MaxHeadBytes) : buffer;
        Span<byte> head = stackalloc byte[(int)window.Length];
        window.CopyTo(head);
        if (!head.StartsWith(RequestLinePrefix))
        {
            return false;
        }
        var end = head.IndexOf(HeadEnd);
        if (end < 0)
        {
            return false;
        }
        head = head[..(end + 2)]; // keep the last header line's CRLF
        var lineEnd = head.IndexOf("\r\n"u8);
        var requestLine = head[..lineEnd];
        var afterPath = requestLine[RequestLinePrefix.Length];
        if ((afterPath != (byte)' ' && afterPath != (byte)'?') || !requestLine.EndsWith(" HTTP/1.1"u8))
        {
            return false;
        }

        bool hasHost = false, upgrade = false, connection = false, version = false;
        string? secKey = null;
        var hostValue = head[..0];
        var originCount = 0;
        var rest = head[(lineEnd + 2)..];
        while (!rest.IsEmpty)
        {
            var eol = rest.IndexOf("\r\n"u8);
            var line = rest[..eol];
            rest = rest[(eol + 2)..];
            var colon = line.IndexOf((byte)':');
            if (colon <= 0)
            {
                return false;
            }
            var name = line[..colon];
            var value = line[(colon + 1)..].Trim((byte)' ').Trim((byte)'\t');
            if (name.EqualsIgnoreCase("Host"u8))
            {
                hasHost = true;
                hostValue = value;
            }
            else if (name.EqualsIgnoreCase("Origin"u8))
            {
                originCount++;
                origin = Encoding.ASCII.GetString(value);
            }
            else if (name.EqualsIgnoreCase("Upgrade"u8))
            {
                upgrade = HasToken(value, "websocket"u8);
            }
            else if (name.EqualsIgnoreCase("Connection"u8))
            {
                connection = HasToken(value, "upgrade"u8);
            }
            else if (name.EqualsIgnoreCase("Sec-WebSocket-Version"u8))
            {
                version = value.SequenceEqual("13"u8);
            }
            else if (name.EqualsIgnoreCase("Sec-WebSocket-Key"u8))
            {
                secKey = IsValidKey(value) ? Encoding.ASCII.GetString(value) : null;
            }
            else if (name.EqualsIgnoreCase("Sec-WebSocket-Protocol"u8))
            {
                // The header may be repeated; any mention of the Protobuf subprotocol selects it.
                // Subprotocol names are case-sensitive (RFC 6455 §11.3.4), as on the ASP.NET path.
                protobuf |= HasToken(value, ProtobufSubprotocolUtf8, ignoreCase: false);
            }
            else if (name.EqualsIgnoreCase("Transfer-Encoding"u8) || name.EqualsIgnoreCase("Content-Length"u8))
            {
                return false; // a body on an upgrade request: let HTTP decide what it means
            }
        }
        if (!hasHost || !upgrade || !connection || !version || secKey is null || originCount > 1)
        {
            origin = null;
            return false;
        }
        if (origin is not null)
        {
            host = Encoding.ASCII.GetString(hostValue);
        }
        headLength = end + HeadEnd.Length;
        key = secKey;
        return true;
    }

    /// <summary>
    /// Writes the <c>101 Switching Protocols</c> answer for the request's key, naming the Protobuf
    /// subprotocol when it was chosen.
    /// </summary>
    public static void WriteAccept(PipeWriter output, string key, bool protobuf)
    {
        Span<byte> material = stackalloc byte[64];
        var length = Encoding.ASCII.GetBytes(key, material);
        AcceptGuid.CopyTo(material[length..]);
        length += AcceptGuid.Length;
        Span<byte> hash = stackalloc byte[20];
        SHA1.HashData(material[..length], hash);
        var accept = Convert.ToBase64String(hash);
        output.Write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "u8);
        output.Write(Encoding.ASCII.GetBytes(accept));
        if (protobuf)
        {
            output.Write("\r\nSec-WebSocket-Protocol: centrifuge-protobuf"u8);
        }
        output.Write("\r\n\r\n"u8);
    }

    // The key is the base64 form of 16 bytes: 24 characters ending in "==".
    private static bool IsValidKey(ReadOnlySpan<byte> value)
    {
        Span<byte> decoded = stackalloc byte[18];
        return value.Length == 24
            && System.Buffers.Text.Base64.DecodeFromUtf8(value, decoded, out _, out var written) == OperationStatus.Done
            && written == 16;
    }

    // A comma-separated header value contains the token, case-insensitively.
    private static bool HasToken(ReadOnlySpan<byte> value, ReadOnlySpan<byte> token, bool ignoreCase = true)
    {
        while (!value.IsEmpty)
        {
            var comma = value.IndexOf((byte)',');
            var item = (comma < 0 ? value : value[..comma]).Trim((byte)' ').Trim((byte)'\t');
            if (ignoreCase ? item.EqualsIgnoreCase(token) : item.SequenceEqual(token))
            {
                return true;
            }
            value = comma < 0 ? [] : value[(comma + 1)..];
        }
        return false;
    }

    private static bool EqualsIgnoreCase(this ReadOnlySpan<byte> a, ReadOnlySpan<byte> b) => Ascii.EqualsIgnoreCase(a, b);

    private static bool EqualsIgnoreCase(this Span<byte> a, ReadOnlySpan<byte> b) => Ascii.EqualsIgnoreCase(a, b);
}
