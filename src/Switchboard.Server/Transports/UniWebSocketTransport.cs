using System.Net.WebSockets;
using Switchboard.Protocol;
using Switchboard.Sessions;

namespace Switchboard.Server.Transports;

/// <summary>
/// The unidirectional JSON protocol over a WebSocket: every message (an unwrapped push) in its
/// own text frame, a close frame with the disconnect code at the end.
/// </summary>
internal sealed class UniWebSocketTransport(WebSocket socket, TimeProvider time) : ITransport
{
    private readonly WebSocketTransport _socket = new(socket, time, ClientCodec.UniJson);

    public string Name => "uni_websocket";

    public ClientCodec Codec => ClientCodec.UniJson;

    public bool Unidirectional => true;

    public async ValueTask WriteAsync(ReadOnlyMemory<byte> frame, CancellationToken cancellationToken)
    {
        // The session joins queued messages with newlines (which never occur inside one: JSON
        // values are kept minified); here each goes out alone.
        while (!frame.IsEmpty)
        {
            var newline = frame.Span.IndexOf((byte)'\n');
            var message = newline < 0 ? frame : frame[..newline];
            frame = newline < 0 ? default : frame[(newline + 1)..];
            if (!message.IsEmpty)
            {
                await socket.SendAsync(message, WebSocketMessageType.Text, endOfMessage: true, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    public ValueTask CloseAsync(Disconnect disconnect, CancellationToken cancellationToken) => _socket.CloseAsync(disconnect, cancellationToken);

    public void Abort() => _socket.Abort();
}
