using System.Buffers;
using System.Net.WebSockets;
using System.Text.Json;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Options;
using Switchboard.Auth;
using Switchboard.Channels;
using Switchboard.Protocol;
using Switchboard.Sessions;

namespace Switchboard.Server.Transports;

/// <summary>
/// Maps <c>GET /connection/uni_websocket</c>: the unidirectional WebSocket. The client's first
/// and only message is a JSON <c>ConnectRequest</c> object (<c>{"token":"…","subs":{…}}</c>, not
/// wrapped in a command); the server then sends the unwrapped push objects, the first being
/// <c>{"connect":{…}}</c>, each in its own text frame, and <c>{}</c> as the ping. A refused
/// connect closes with its disconnect code. Any further message from the client closes the
/// connection with 3501: a unidirectional client has nothing more to say, and silently reading
/// what it sends would let it feed the server for free.
/// </summary>
internal static class UniWebSocketEndpoint
{
    private const int ReadBufferBytes = 1024;

    public static void MapUniWebSocketTransport(this WebApplication app)
        => app.Map("/connection/uni_websocket", HandleAsync).ExcludeFromDescription();

    private static async Task HandleAsync(HttpContext context, Node node, TimeProvider time, IOptions<SwitchboardOptions> options, OriginList origins)
    {
        if (context.RefuseConnection(node, origins))
        {
            return;
        }
        using var socket = await context.AcceptWebSocketOrRefuseAsync().ConfigureAwait(false);
        if (socket is null)
        {
            return;
        }
        var client = node.CreateClient(new UniWebSocketTransport(socket, time));
        try
        {
            if (await ReadConnectAsync(socket, client, options.Value.Client.MaxMessageBytes, context.RequestAborted).ConfigureAwait(false))
            {
                // Anything after the connect request is a protocol violation; a close frame ends it.
                // An idle connection waits with a zero-byte receive and holds no buffer.
                var next = await socket.ReceiveAsync(Memory<byte>.Empty, context.RequestAborted).ConfigureAwait(false);
                if (next.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }
                client.Disconnect(Disconnect.BadRequest);
            }
            var buffer = ArrayPool<byte>.Shared.Rent(ReadBufferBytes);
            try
            {
                await WebSocketEndpoint.DrainAsync(socket, buffer, context.RequestAborted).ConfigureAwait(false);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
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

    // Reads the first message and connects with it; false when the session was refused or closed
    // (a close frame instead of a request, a message too big, not one JSON object, not text).
    private static async Task<bool> ReadConnectAsync(WebSocket socket, Client client, int maxMessageBytes, CancellationToken ct)
    {
        // Until the request starts to arrive the connection holds no buffer (a zero-byte receive
        // returns once a frame header is in); one that never sends is closed by the connect
        // timeout (3502).
        var received = await socket.ReceiveAsync(Memory<byte>.Empty, ct).ConfigureAwait(false);
        if (received.MessageType == WebSocketMessageType.Close)
        {
            return false;
        }
        var buffer = ArrayPool<byte>.Shared.Rent(maxMessageBytes);
        try
        {
            var length = 0;
            while (!received.EndOfMessage)
            {
                if (length == maxMessageBytes)
                {
                    client.Disconnect(Disconnect.MessageTooBig);
                    return false;
                }
                received = await socket.ReceiveAsync(buffer.AsMemory(length, maxMessageBytes - length), ct).ConfigureAwait(false);
                length += received.Count;
                if (received.MessageType == WebSocketMessageType.Close)
                {
                    break;
                }
            }
            if (received.MessageType == WebSocketMessageType.Close)
            {
                return false;
            }
            if (received.MessageType != WebSocketMessageType.Text || ParseConnect(buffer.AsSpan(0, length)) is not { } request)
            {
                client.Disconnect(Disconnect.BadRequest);
                return false;
            }
            await client.ConnectUnidirectionalAsync(request, ct).ConfigureAwait(false);
            return client.State != ClientState.Closed;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    // The connect request: one JSON object; null when it is anything else.
    private static ConnectRequest? ParseConnect(ReadOnlySpan<byte> json)
    {
        try
        {
            return JsonSerializer.Deserialize(json, ProtocolJsonContext.Default.ConnectRequest);
        }
        catch (JsonException)
        {
            return null;
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }
}
