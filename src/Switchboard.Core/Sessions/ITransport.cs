using Switchboard.Protocol;

namespace Switchboard.Sessions;

/// <summary>
/// The seam between a client session and the bytes on the wire: WebSocket now, HTTP-streaming,
/// SSE and others later. A session writes whole frames from one writer loop only.
/// </summary>
internal interface ITransport
{
    /// <summary>The transport's name, as used in metrics and logs (e.g. <c>websocket</c>).</summary>
    string Name { get; }

    /// <summary>Writes one frame: one or more messages separated by newlines.</summary>
    ValueTask WriteAsync(ReadOnlyMemory<byte> frame, CancellationToken cancellationToken);

    /// <summary>Ends the connection with a disconnect code (a close frame on WebSocket).</summary>
    ValueTask CloseAsync(Disconnect disconnect, CancellationToken cancellationToken);

    /// <summary>
    /// Drops the connection at once, with no goodbye: for a peer that does not read (a close frame
    /// would wait behind everything it has not read).
    /// </summary>
    void Abort();
}
