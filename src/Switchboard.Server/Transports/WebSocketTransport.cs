using System.Net.WebSockets;
using System.Text;
using Switchboard.Protocol;
using Switchboard.Sessions;

namespace Switchboard.Server.Transports;

/// <summary>
/// A client protocol over a WebSocket: text frames out for JSON, binary frames for Protobuf, a
/// close frame for a disconnect.
/// </summary>
internal sealed class WebSocketTransport(WebSocket socket, TimeProvider time, ClientCodec codec) : ITransport
{
    private static readonly TimeSpan CloseHandshakeTimeout = TimeSpan.FromSeconds(5);

    public string Name => codec.IsBinary ? "websocket_protobuf" : "websocket";

    public ClientCodec Codec => codec;

    public ValueTask WriteAsync(ReadOnlyMemory<byte> frame, CancellationToken cancellationToken)
        => socket.SendAsync(frame, codec.IsBinary ? WebSocketMessageType.Binary : WebSocketMessageType.Text, endOfMessage: true, cancellationToken);

    public async ValueTask CloseAsync(Disconnect disconnect, CancellationToken cancellationToken)
    {
        if (socket.State is not (WebSocketState.Open or WebSocketState.CloseReceived))
        {
            return;
        }
        var reason = disconnect.Reason;
        if (Encoding.UTF8.GetByteCount(reason) > 122)
        {
            reason = "";
        }
        using var timeout = new CancellationTokenSource(CloseHandshakeTimeout, time);
        try
        {
            await socket.CloseOutputAsync((WebSocketCloseStatus)disconnect.Code, reason, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            socket.Abort();
            return;
        }
        // A peer that never answers the close frame must not hold the connection open.
        _ = AbortAfterAsync(CloseHandshakeTimeout);
    }

    public void Abort() => socket.Abort();

    private async Task AbortAfterAsync(TimeSpan delay)
    {
        await Task.Delay(delay, time).ConfigureAwait(false);
        if (socket.State != WebSocketState.Closed)
        {
            socket.Abort();
        }
    }
}
