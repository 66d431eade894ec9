using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace Switchboard.Testing;

/// <summary>
/// Just enough of the Redis protocol (RESP2) to drive a test server from its fixture: one command
/// on one short-lived connection. The engine under test uses its real client; this only checks
/// that a server is up, reads <c>CLUSTER INFO</c>, and lets a test look at or flush the data.
/// </summary>
public static class Resp
{
    /// <summary>
    /// Sends one command to <paramref name="address"/> (<c>host:port</c>) and returns its reply:
    /// a string (simple or bulk), a long (integer), an array of replies, or null (a nil reply).
    /// </summary>
    /// <exception cref="RespErrorException">The server answered with an error.</exception>
    public static async Task<object?> CommandAsync(string address, CancellationToken cancellationToken, params string[] command)
    {
        ArgumentNullException.ThrowIfNull(address);
        ArgumentNullException.ThrowIfNull(command);
        var colon = address.LastIndexOf(':');
        var host = address[..colon];
        var port = int.Parse(address.AsSpan(colon + 1), CultureInfo.InvariantCulture);
        using var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync(host, port, cancellationToken);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encode(command), cancellationToken);
        var reader = new Reader(stream);
        return await reader.ReadReplyAsync(cancellationToken);
    }

    /// <summary>True when a server answers PING with PONG at <paramref name="address"/>.</summary>
    public static async Task<bool> PingAsync(string address, CancellationToken cancellationToken)
    {
        try
        {
            return await CommandAsync(address, cancellationToken, "PING") is "PONG";
        }
        catch (Exception e) when (e is SocketException or IOException or RespErrorException)
        {
            // Not listening yet, closed on us, or still loading its data set (-LOADING).
            return false;
        }
    }

    private static byte[] Encode(string[] command)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"*{command.Length}\r\n");
        foreach (var arg in command)
        {
            text.Append(CultureInfo.InvariantCulture, $"${Encoding.UTF8.GetByteCount(arg)}\r\n{arg}\r\n");
        }
        return Encoding.UTF8.GetBytes(text.ToString());
    }

    private sealed class Reader(Stream stream)
    {
        private readonly byte[] _buffer = new byte[16 * 1024];
        private int _start;
        private int _end;

        public async Task<object?> ReadReplyAsync(CancellationToken cancellationToken)
        {
            var line = await ReadLineAsync(cancellationToken);
            var rest = line[1..];
            switch (line[0])
            {
                case '+':
                    return rest;
                case '-':
                    throw new RespErrorException(rest);
                case ':':
                    return long.Parse(rest, CultureInfo.InvariantCulture);
                case '$':
                {
                    var length = int.Parse(rest, CultureInfo.InvariantCulture);
                    if (length < 0)
                    {
                        return null;
                    }
                    var bytes = await ReadExactlyAsync(length + 2, cancellationToken);
                    return Encoding.UTF8.GetString(bytes, 0, length);
                }
                case '*':
                {
                    var count = int.Parse(rest, CultureInfo.InvariantCulture);
                    if (count < 0)
                    {
                        return null;
                    }
                    var items = new object?[count];
                    for (var i = 0; i < count; i++)
                    {
                        items[i] = await ReadReplyAsync(cancellationToken);
                    }
                    return items;
                }
                default:
                    throw new IOException($"Unexpected RESP reply: {line}");
            }
        }

        private async Task<string> ReadLineAsync(CancellationToken cancellationToken)
        {
            while (true)
            {
                var span = _buffer.AsSpan(_start, _end - _start);
                var cr = span.IndexOf("\r\n"u8);
                if (cr >= 0)
                {
                    var line = Encoding.UTF8.GetString(span[..cr]);
                    _start += cr + 2;
                    return line;
                }
                await FillAsync(cancellationToken);
            }
        }

        private async Task<byte[]> ReadExactlyAsync(int count, CancellationToken cancellationToken)
        {
            var result = new byte[count];
            var copied = 0;
            while (copied < count)
            {
                if (_start == _end)
                {
                    await FillAsync(cancellationToken);
                }
                var n = Math.Min(count - copied, _end - _start);
                _buffer.AsSpan(_start, n).CopyTo(result.AsSpan(copied));
                _start += n;
                copied += n;
            }
            return result;
        }

        private async Task FillAsync(CancellationToken cancellationToken)
        {
            if (_start > 0)
            {
                _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
                _end -= _start;
                _start = 0;
            }
            if (_end == _buffer.Length)
            {
                throw new IOException("RESP line longer than the test client's buffer.");
            }
            var n = await stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken);
            if (n == 0)
            {
                throw new IOException("The Redis server closed the connection.");
            }
            _end += n;
        }
    }
}

/// <summary>An error reply (<c>-ERR …</c>) from a Redis server.</summary>
public sealed class RespErrorException : Exception
{
    /// <summary>Creates the exception with the server's error text.</summary>
    public RespErrorException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public RespErrorException()
    {
    }

    /// <summary>Creates the exception wrapping another.</summary>
    public RespErrorException(string message, Exception innerException) : base(message, innerException)
    {
    }
}
