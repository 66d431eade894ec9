using System.Net;
using System.Net.Sockets;

namespace Switchboard.Bench;

/// <summary>
/// HTTP stacks for WebSocket handshakes whose sockets are made here: bound to a chosen loopback
/// source address (so that tens of thousands of connections do not share one address's ephemeral
/// ports) and/or with a small receive buffer (so that a client that stops reading backs TCP up fast).
/// </summary>
internal static class Transport
{
    private const int SolIp = 0;
    private const int IpBindAddressNoPort = 24; // Linux: pick the port at connect(), per 4-tuple

    public static HttpMessageInvoker Create(IPAddress? source, int? receiveBufferBytes) =>
        new(Handler(source, receiveBufferBytes, null));

    /// <summary>
    /// The handler behind <see cref="Create"/>: every connection it opens is a socket made here;
    /// with <paramref name="counter"/>, every byte read from or written to those sockets is counted
    /// there (HTTP headers, chunk framing, WebSocket frames and keep-alives included).
    /// </summary>
    public static SocketsHttpHandler Handler(IPAddress? source, int? receiveBufferBytes, WireCounter? counter) =>
        new()
        {
            UseProxy = false,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            ConnectCallback = async (context, ct) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    if (receiveBufferBytes is { } rcv)
                    {
                        // Before connect, so that the window the server sees is small from the start.
                        socket.ReceiveBufferSize = rcv;
                    }
                    if (source is not null)
                    {
                        socket.SetRawSocketOption(SolIp, IpBindAddressNoPort, BitConverter.GetBytes(1));
                        socket.Bind(new IPEndPoint(source, 0));
                    }
                    var host = context.DnsEndPoint.Host;
                    EndPoint remote = IPAddress.TryParse(host, out var ip)
                        ? new IPEndPoint(ip, context.DnsEndPoint.Port)
                        : context.DnsEndPoint;
                    await socket.ConnectAsync(remote, ct);
                    var stream = new NetworkStream(socket, ownsSocket: true);
                    return counter is null ? stream : new CountingStream(stream, counter);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };

    /// <summary>The <paramref name="index"/>-th generator source address: 127.0.0.2, 127.0.0.3, …</summary>
    public static IPAddress SourceAddress(int index) => new([127, 0, 0, (byte)(2 + index)]);
}
