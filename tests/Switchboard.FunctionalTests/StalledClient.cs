using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace Switchboard.FunctionalTests;

/// <summary>
/// A WebSocket client on a bare TCP socket with a tiny receive buffer, which connects, subscribes,
/// reads the two replies and then never reads again: a peer that stopped reading.
/// </summary>
public sealed class StalledClient : IAsyncDisposable
{
    private readonly Socket _socket;

    private StalledClient(Socket socket) => _socket = socket;

    public static async Task<StalledClient> ConnectAsync(ServerFixture server, string channel, string? token = null)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 2048 };
        await socket.ConnectAsync(IPAddress.Loopback, server.BaseAddress.Port);
        var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
        await socket.SendAsync(Encoding.ASCII.GetBytes(
            $"GET /connection/websocket HTTP/1.1\r\nHost: 127.0.0.1:{server.BaseAddress.Port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"));
        var response = await ReadHandshakeAsync(socket);
        Assert.StartsWith("HTTP/1.1 101", response, StringComparison.Ordinal);
        var connect = token is null ? "{\"id\":1,\"connect\":{}}" : $"{{\"id\":1,\"connect\":{{\"token\":\"{token}\"}}}}";
        await socket.SendAsync(MaskedTextFrame(connect + "\n" + $"{{\"id\":2,\"subscribe\":{{\"channel\":\"{channel}\"}}}}"));
        var replies = 0;
        while (replies < 2)
        {
            var text = await ReadFrameAsync(socket);
            Assert.DoesNotContain("\"error\"", text, StringComparison.Ordinal);
            replies += text.Split('\n').Length;
        }
        return new StalledClient(socket);
    }

    private static async Task<string> ReadHandshakeAsync(Socket socket)
    {
        var bytes = new List<byte>();
        var one = new byte[1];
        while (bytes.Count < 4 || !(bytes[^4] == '\r' && bytes[^3] == '\n' && bytes[^2] == '\r' && bytes[^1] == '\n'))
        {
            if (await socket.ReceiveAsync(one) == 0)
            {
                throw new IOException("closed during the handshake");
            }
            bytes.Add(one[0]);
        }
        return Encoding.ASCII.GetString([.. bytes]);
    }

    private static async Task<string> ReadFrameAsync(Socket socket)
    {
        var header = await ReadExactlyAsync(socket, 2);
        long length = header[1] & 0x7F;
        if (length == 126)
        {
            var ext = await ReadExactlyAsync(socket, 2);
            length = (ext[0] << 8) | ext[1];
        }
        else if (length == 127)
        {
            var ext = await ReadExactlyAsync(socket, 8);
            length = (long)System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(ext);
        }
        return Encoding.UTF8.GetString(await ReadExactlyAsync(socket, (int)length));
    }

    private static async Task<byte[]> ReadExactlyAsync(Socket socket, int count)
    {
        var buffer = new byte[count];
        var read = 0;
        while (read < count)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(read));
            if (n == 0)
            {
                throw new IOException("closed");
            }
            read += n;
        }
        return buffer;
    }

    private static byte[] MaskedTextFrame(string text)
    {
        var payload = Encoding.UTF8.GetBytes(text);
        var frame = new List<byte> { 0x81 };
        if (payload.Length < 126)
        {
            frame.Add((byte)(0x80 | payload.Length));
        }
        else
        {
            frame.Add(0x80 | 126);
            frame.Add((byte)(payload.Length >> 8));
            frame.Add((byte)payload.Length);
        }
        var mask = RandomNumberGenerator.GetBytes(4);
        frame.AddRange(mask);
        for (var i = 0; i < payload.Length; i++)
        {
            frame.Add((byte)(payload[i] ^ mask[i % 4]));
        }
        return [.. frame];
    }

    public ValueTask DisposeAsync()
    {
        _socket.Dispose();
        return ValueTask.CompletedTask;
    }
}
