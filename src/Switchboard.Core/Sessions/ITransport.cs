using Switchboard.Protocol;

namespace Switchboard.Sessions;

/// <summary>
/// The seam between a client session and the bytes on the wire: WebSocket (JSON or Protobuf),
/// HTTP-streaming, SSE and the unidirectional transports. A session writes whole frames from one
/// writer loop only.
/// </summary>
internal interface ITransport
{
    /// <summary>
    /// The transport's name, as used in metrics and logs: <c>websocket</c>, <c>websocket_protobuf</c>,
    /// <c>http_stream</c>, <c>sse</c>, <c>uni_websocket</c>, <c>uni_sse</c>, <c>uni_http_stream</c>.
    /// </summary>
    string Name { get; }

    /// <summary>The protocol this connection speaks.</summary>
    ClientCodec Codec => ClientCodec.Json;

    /// <summary>
    /// True for HTTP-streaming and SSE: later commands arrive as emulation requests
    /// (<c>POST /emulation</c>), so the connect result names the session and the node.
    /// </summary>
    bool Emulation => false;

    /// <summary>True for the unidirectional transports: the client only receives (no pongs are expected).</summary>
    bool Unidirectional => false;

    /// <summary>
    /// Writes one frame: one or more messages joined by the codec's separator. A transport that
    /// frames messages itself (SSE events) splits the frame at the separator.
    /// </summary>
    ValueTask WriteAsync(ReadOnlyMemory<byte> frame, CancellationToken cancellationToken);

    /// <summary>
    /// Ends the connection with a disconnect code: a close frame on WebSocket, a disconnect push
    /// and the end of the response on the streaming transports.
    /// </summary>
    ValueTask CloseAsync(Disconnect disconnect, CancellationToken cancellationToken);

    /// <summary>
    /// Drops the connection at once, with no goodbye: for a peer that does not read (a close frame
    /// would wait behind everything it has not read).
    /// </summary>
    void Abort();
}
