using System.Buffers.Binary;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace Switchboard.FunctionalTests;

/// <summary>
/// RFC 6455 on the wire, byte by byte, against the WebSocket fast path (the server's own framing on
/// the connection) and its fallback (ASP.NET Core's WebSocket, for requests the fast path leaves
/// alone): handshake, fragmentation, control frames, close handshake, and hostile frames.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class WebSocketWireTests(ServerFixture server)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task The_handshake_is_answered_by_the_fast_path_with_the_right_accept_key()
    {
        await using var ws = await WireClient.OpenAsync(server.BaseAddress);
        Assert.Contains("HTTP/1.1 101 Switching Protocols", ws.ResponseHead, StringComparison.Ordinal);
        Assert.Contains("Sec-WebSocket-Accept: " + ws.ExpectedAccept, ws.ResponseHead, StringComparison.Ordinal);
        // Kestrel's HTTP stack names itself; the connection-level fast path does not.
        Assert.DoesNotContain("Server: Kestrel", ws.ResponseHead, StringComparison.Ordinal);
        await ws.SendAsync(0x1, "{\"id\":1,\"connect\":{}}");
        var (opcode, payload) = await ws.ReceiveAsync();
        Assert.Equal(0x1, opcode);
        Assert.Contains("\"connect\":", Encoding.UTF8.GetString(payload), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_request_head_split_over_two_writes_is_served_with_the_same_protocol()
    {
        // Usually the fast path sees only the first line and leaves the connection to the ASP.NET
        // Core endpoint; on a loaded machine both writes may arrive together and the fast path
        // serves it. Either way the client must see the same handshake and protocol (which path
        // answers is not observable to a client, so it is not asserted).
        await using var ws = await WireClient.OpenAsync(server.BaseAddress, splitHead: true);
        Assert.Contains("HTTP/1.1 101 Switching Protocols", ws.ResponseHead, StringComparison.Ordinal);
        Assert.Contains("Sec-WebSocket-Accept: " + ws.ExpectedAccept, ws.ResponseHead, StringComparison.Ordinal);
        await ws.SendAsync(0x1, "{\"id\":1,\"connect\":{}}");
        var (_, payload) = await ws.ReceiveAsync();
        Assert.Contains("\"connect\":", Encoding.UTF8.GetString(payload), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_fragmented_message_with_a_ping_between_its_fragments_is_joined_and_the_ping_answered()
    {
        await using var ws = await WireClient.OpenAsync(server.BaseAddress);
        await ws.SendFrameAsync(fin: false, 0x1, Encoding.UTF8.GetBytes("{\"id\":1,"));
        await ws.SendFrameAsync(fin: true, 0x9, "hello"u8.ToArray());
        await ws.SendFrameAsync(fin: false, 0x0, Encoding.UTF8.GetBytes("\"connect\":"));
        await ws.SendFrameAsync(fin: true, 0x0, Encoding.UTF8.GetBytes("{}}"));
        var (opcode, payload) = await ws.ReceiveAsync();
        Assert.Equal(0xA, opcode);
        Assert.Equal("hello", Encoding.UTF8.GetString(payload));
        (opcode, payload) = await ws.ReceiveAsync();
        Assert.Equal(0x1, opcode);
        Assert.Contains("\"connect\":", Encoding.UTF8.GetString(payload), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_client_close_is_echoed_and_the_connection_ends()
    {
        await using var ws = await WireClient.OpenAsync(server.BaseAddress);
        await ws.SendAsync(0x1, "{\"id\":1,\"connect\":{}}");
        await ws.ReceiveAsync();
        var close = new byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(close, 1000);
        await ws.SendFrameAsync(fin: true, 0x8, close);
        var (opcode, payload) = await ws.ReceiveAsync();
        Assert.Equal(0x8, opcode);
        Assert.Equal(1000, BinaryPrimitives.ReadUInt16BigEndian(payload));
        Assert.True(await ws.EndOfStreamAsync());
    }

    [Fact]
    public async Task An_unmasked_client_frame_is_a_protocol_error()
    {
        await using var ws = await WireClient.OpenAsync(server.BaseAddress);
        await ws.SendFrameAsync(fin: true, 0x1, Encoding.UTF8.GetBytes("{\"id\":1,\"connect\":{}}"), masked: false);
        Assert.Equal(1002, await ws.CloseCodeAsync());
    }

    [Fact]
    public async Task Reserved_bits_without_an_extension_are_a_protocol_error()
    {
        await using var ws = await WireClient.OpenAsync(server.BaseAddress);
        await ws.SendFrameAsync(fin: true, 0x1, Encoding.UTF8.GetBytes("{}"), rsv: 0x40);
        Assert.Equal(1002, await ws.CloseCodeAsync());
    }

    [Fact]
    public async Task A_continuation_without_a_message_is_a_protocol_error()
    {
        await using var ws = await WireClient.OpenAsync(server.BaseAddress);
        await ws.SendFrameAsync(fin: true, 0x0, Encoding.UTF8.GetBytes("{}"));
        Assert.Equal(1002, await ws.CloseCodeAsync());
    }

    [Fact]
    public async Task Invalid_utf8_in_a_text_message_closes_with_1007()
    {
        await using var ws = await WireClient.OpenAsync(server.BaseAddress);
        await ws.SendFrameAsync(fin: true, 0x1, [0x7B, 0xC3, 0x28, 0x7D]);
        Assert.Equal(1007, await ws.CloseCodeAsync());
    }

    [Fact]
    public async Task A_binary_message_closes_with_bad_request()
    {
        await using var ws = await WireClient.OpenAsync(server.BaseAddress);
        await ws.SendFrameAsync(fin: true, 0x2, [1, 2, 3]);
        Assert.Equal(3501, await ws.CloseCodeAsync());
    }

    [Fact]
    public async Task A_message_growing_past_the_limit_in_fragments_closes_with_1009()
    {
        await using var ws = await WireClient.OpenAsync(server.BaseAddress);
        var chunk = new byte[40_000];
        chunk.AsSpan().Fill((byte)'x');
        await ws.SendFrameAsync(fin: false, 0x1, chunk);
        await ws.SendFrameAsync(fin: false, 0x0, chunk);
        Assert.Equal(1009, await ws.CloseCodeAsync());
    }

    [Fact]
    public async Task An_oversized_control_frame_is_a_protocol_error()
    {
        await using var ws = await WireClient.OpenAsync(server.BaseAddress);
        await ws.SendFrameAsync(fin: true, 0x9, new byte[126]);
        Assert.Equal(1002, await ws.CloseCodeAsync());
    }

    [Fact]
    public async Task With_the_fast_path_off_every_upgrade_goes_through_aspnetcore()
    {
        await using var off = await ServerFixture.StartAsync("--Switchboard:Client:WebSocketFastPath=false");
        await using var ws = await WireClient.OpenAsync(off.BaseAddress);
        Assert.Contains("Server: Kestrel", ws.ResponseHead, StringComparison.Ordinal);
        await ws.SendAsync(0x1, "{\"id\":1,\"connect\":{}}");
        var (_, payload) = await ws.ReceiveAsync();
        Assert.Contains("\"connect\":", Encoding.UTF8.GetString(payload), StringComparison.Ordinal);
        await ws.SendFrameAsync(fin: true, 0x2, [1]);
        Assert.Equal(3501, await ws.CloseCodeAsync());
    }

    /// <summary>A WebSocket client written against the RFC by hand, on a raw TCP socket.</summary>
    private sealed class WireClient : IAsyncDisposable
    {
        private readonly TcpClient _tcp;
        private readonly NetworkStream _stream;
        private byte[] _pending = [];

        private WireClient(TcpClient tcp, string expectedAccept)
        {
            _tcp = tcp;
            _stream = tcp.GetStream();
            ExpectedAccept = expectedAccept;
        }

        public string ResponseHead { get; private set; } = "";

        public string ExpectedAccept { get; }

        public static async Task<WireClient> OpenAsync(Uri baseAddress, bool splitHead = false)
        {
            var tcp = new TcpClient { NoDelay = true };
            await tcp.ConnectAsync(baseAddress.Host, baseAddress.Port);
            var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
            var accept = Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));
            var client = new WireClient(tcp, accept);
            var head = Encoding.ASCII.GetBytes(
                "GET /connection/websocket HTTP/1.1\r\n" +
                $"Host: {baseAddress.Authority}\r\n" +
                "Upgrade: websocket\r\nConnection: Upgrade\r\n" +
                $"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n");
            if (splitHead)
            {
                // Only the first line arrives first: the fast path must leave the connection to HTTP.
                await client._stream.WriteAsync(head.AsMemory(0, 20));
                await client._stream.FlushAsync();
                await Task.Delay(100);
                await client._stream.WriteAsync(head.AsMemory(20));
            }
            else
            {
                await client._stream.WriteAsync(head);
            }
            client.ResponseHead = await client.ReadHeadAsync();
            return client;
        }

        public Task SendAsync(byte opcode, string text) => SendFrameAsync(fin: true, opcode, Encoding.UTF8.GetBytes(text));

        public async Task SendFrameAsync(bool fin, byte opcode, byte[] payload, bool masked = true, byte rsv = 0)
        {
            var frame = new List<byte> { (byte)((fin ? 0x80 : 0) | rsv | opcode) };
            var maskBit = masked ? 0x80 : 0;
            if (payload.Length < 126)
            {
                frame.Add((byte)(maskBit | payload.Length));
            }
            else if (payload.Length <= ushort.MaxValue)
            {
                frame.Add((byte)(maskBit | 126));
                frame.Add((byte)(payload.Length >> 8));
                frame.Add((byte)payload.Length);
            }
            else
            {
                frame.Add((byte)(maskBit | 127));
                var length = new byte[8];
                BinaryPrimitives.WriteUInt64BigEndian(length, (ulong)payload.Length);
                frame.AddRange(length);
            }
            var body = (byte[])payload.Clone();
            if (masked)
            {
                var mask = RandomNumberGenerator.GetBytes(4);
                frame.AddRange(mask);
                for (var i = 0; i < body.Length; i++)
                {
                    body[i] ^= mask[i & 3];
                }
            }
            frame.AddRange(body);
            try
            {
                await _stream.WriteAsync(frame.ToArray());
            }
            catch (IOException)
            {
                // The server may already have closed after an earlier frame.
            }
        }

        /// <summary>The next frame from the server (servers never mask; messages here fit one frame).</summary>
        public async Task<(byte Opcode, byte[] Payload)> ReceiveAsync()
        {
            var header = await ReadExactlyAsync(2);
            Assert.Equal(0, header[1] & 0x80);
            long length = header[1] & 0x7F;
            if (length == 126)
            {
                length = BinaryPrimitives.ReadUInt16BigEndian(await ReadExactlyAsync(2));
            }
            else if (length == 127)
            {
                length = (long)BinaryPrimitives.ReadUInt64BigEndian(await ReadExactlyAsync(8));
            }
            return ((byte)(header[0] & 0x0F), await ReadExactlyAsync((int)length));
        }

        /// <summary>Reads frames until the close frame; its status code.</summary>
        public async Task<int> CloseCodeAsync()
        {
            while (true)
            {
                var (opcode, payload) = await ReceiveAsync();
                if (opcode == 0x8)
                {
                    return BinaryPrimitives.ReadUInt16BigEndian(payload);
                }
            }
        }

        public async Task<bool> EndOfStreamAsync()
        {
            var buffer = new byte[1];
            using var cts = new CancellationTokenSource(Timeout);
            try
            {
                return await _stream.ReadAsync(buffer, cts.Token) == 0;
            }
            catch (IOException)
            {
                return true; // reset: ended too
            }
        }

        private async Task<string> ReadHeadAsync()
        {
            var received = new List<byte>();
            var buffer = new byte[1024];
            using var cts = new CancellationTokenSource(Timeout);
            while (true)
            {
                var n = await _stream.ReadAsync(buffer, cts.Token);
                Assert.True(n > 0, "connection closed during the handshake");
                received.AddRange(buffer.AsSpan(0, n));
                var all = received.ToArray();
                var end = all.AsSpan().IndexOf("\r\n\r\n"u8);
                if (end >= 0)
                {
                    _pending = all[(end + 4)..];
                    return Encoding.ASCII.GetString(all, 0, end + 4);
                }
            }
        }

        private async Task<byte[]> ReadExactlyAsync(int count)
        {
            var result = new byte[count];
            var have = Math.Min(count, _pending.Length);
            _pending.AsSpan(0, have).CopyTo(result);
            _pending = _pending[have..];
            using var cts = new CancellationTokenSource(Timeout);
            await _stream.ReadExactlyAsync(result.AsMemory(have), cts.Token);
            return result;
        }

        public ValueTask DisposeAsync()
        {
            _tcp.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
