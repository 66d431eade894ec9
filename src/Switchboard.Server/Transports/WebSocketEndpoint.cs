using System.Buffers;
using System.Net.WebSockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Options;
using Switchboard.Auth;
using Switchboard.Channels;
using Switchboard.Protocol;
using Switchboard.Sessions;

namespace Switchboard.Server.Transports;

/// <summary>
/// Maps <c>GET /connection/websocket</c>: the bidirectional JSON protocol in text frames, or the
/// Protobuf protocol in binary frames when the client offers the <c>centrifuge-protobuf</c>
/// subprotocol.
/// </summary>
internal static class WebSocketEndpoint
{
    private const int ReadBufferBytes = 4096;

    public static void MapWebSocketTransport(this WebApplication app)
        => app.Map("/connection/websocket", HandleAsync).ExcludeFromDescription();

    private static async Task HandleAsync(HttpContext context, Node node, TimeProvider time, IOptions<SwitchboardOptions> options, OriginList origins)
    {
        if (context.RefuseConnection(node, origins))
        {
            return;
        }
        var protobuf = context.WebSockets.WebSocketRequestedProtocols.Contains(WebSocketHandshake.ProtobufSubprotocol);
        using var socket = await context.AcceptWebSocketOrRefuseAsync(protobuf ? WebSocketHandshake.ProtobufSubprotocol : null).ConfigureAwait(false);
        if (socket is null)
        {
            return;
        }
        var codec = protobuf ? ClientCodec.Protobuf : ClientCodec.Json;
        var client = node.CreateClient(new WebSocketTransport(socket, time, codec));
        try
        {
            await ReadLoopAsync(socket, client, codec, options.Value.Client.MaxMessageBytes, context.RequestAborted).ConfigureAwait(false);
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or ConnectionAbortedException)
        {
            // The peer went away.
        }
        finally
        {
            await client.OnTransportClosedAsync().ConfigureAwait(false);
            await client.Writer.ConfigureAwait(false);
        }
    }

    private static async Task ReadLoopAsync(WebSocket socket, Client client, ClientCodec codec, int maxMessageBytes, CancellationToken ct)
    {
        // An idle connection holds no read buffer: it waits with a zero-byte receive (which
        // returns once a frame header has arrived) and rents a buffer only for the message.
        byte[]? buffer = null;
        try
        {
            while (client.State != ClientState.Closed)
            {
                var length = 0;
                var received = await socket.ReceiveAsync(Memory<byte>.Empty, ct).ConfigureAwait(false);
                if (received.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }
                buffer ??= ArrayPool<byte>.Shared.Rent(ReadBufferBytes);
                while (!received.EndOfMessage)
                {
                    if (length == maxMessageBytes)
                    {
                        // Whole or in fragments, a message may not grow past the limit.
                        client.Disconnect(Disconnect.MessageTooBig);
                        await DrainUntilClosedAsync(socket, buffer, ct).ConfigureAwait(false);
                        return;
                    }
                    if (length == buffer.Length)
                    {
                        var larger = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length * 2, maxMessageBytes));
                        buffer.AsSpan(0, length).CopyTo(larger);
                        ArrayPool<byte>.Shared.Return(buffer);
                        buffer = larger;
                    }
                    var room = Math.Min(buffer.Length, maxMessageBytes) - length;
                    received = await socket.ReceiveAsync(buffer.AsMemory(length, room), ct).ConfigureAwait(false);
                    length += received.Count;
                    if (received.MessageType == WebSocketMessageType.Close)
                    {
                        break;
                    }
                }

                if (received.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }
                if ((received.MessageType == WebSocketMessageType.Binary) != codec.IsBinary)
                {
                    // A binary frame on a JSON connection or a text one on a Protobuf connection: the wrong protocol.
                    client.Disconnect(Disconnect.BadRequest);
                    await DrainUntilClosedAsync(socket, buffer, ct).ConfigureAwait(false);
                    return;
                }
                await client.HandleFrameAsync(buffer.AsMemory(0, length), ct).ConfigureAwait(false);
                ArrayPool<byte>.Shared.Return(buffer);
                buffer = null;
            }
            buffer ??= ArrayPool<byte>.Shared.Rent(ReadBufferBytes);
            await DrainUntilClosedAsync(socket, buffer, ct).ConfigureAwait(false);
        }
        finally
        {
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    /// <summary>After the server has decided to close: read (and ignore) until the peer's close frame arrives.</summary>
    internal static Task DrainAsync(WebSocket socket, byte[] buffer, CancellationToken ct) => DrainUntilClosedAsync(socket, buffer, ct);

    // After the server has decided to close: read (and ignore) until the peer's close frame arrives.
    private static async Task DrainUntilClosedAsync(WebSocket socket, byte[] buffer, CancellationToken ct)
    {
        while (socket.State is WebSocketState.Open or WebSocketState.CloseSent)
        {
            var received = await socket.ReceiveAsync(buffer.AsMemory(), ct).ConfigureAwait(false);
            if (received.MessageType == WebSocketMessageType.Close)
            {
                return;
            }
        }
    }
}
