using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Options;
using Switchboard.Auth;
using Switchboard.Channels;
using Switchboard.Protocol;
using Switchboard.Sessions;

namespace Switchboard.Server.Transports;

/// <summary>
/// Kestrel connection middleware for the WebSocket endpoint's hot path: when the first bytes of a
/// connection are a complete upgrade request for <c>/connection/websocket</c>, it answers the
/// handshake itself and runs the session over <see cref="PipeWebSocket"/>, skipping the HTTP
/// request pipeline for the life of the connection (about 10 KiB less per connection and fewer
/// layers on every write). Everything else — other paths, partial or unusual requests, TLS,
/// foreign origins, refusals while draining or at the cap — goes on to Kestrel's HTTP stack unchanged, where
/// <see cref="WebSocketEndpoint"/> serves the same protocol.
/// </summary>
internal sealed class WebSocketConnectionMiddleware(ConnectionDelegate next, IServiceProvider services)
{
    private Node? _node;
    private TimeProvider? _time;
    private SwitchboardOptions? _options;
    private OriginList? _origins;

    public async Task OnConnectionAsync(ConnectionContext connection)
    {
        var input = connection.Transport.Input;
        System.IO.Pipelines.ReadResult result;
        try
        {
            result = await input.ReadAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is ConnectionResetException or ConnectionAbortedException or IOException or OperationCanceledException)
        {
            return;
        }
        _node ??= services.GetRequiredService<Node>();
        _origins ??= services.GetRequiredService<OriginList>();
        var buffer = result.Buffer;
        if (!WebSocketHandshake.TryParse(buffer, out var headLength, out var key, out var origin, out var host, out var protobuf)
            || !_origins.IsAllowed(origin, host)
            || _node.RefuseReason() is not null)
        {
            // Nothing consumed, nothing examined: HTTP reads the same bytes again at once, and a
            // refusal (a foreign origin: 403; draining or full: 503) is answered there.
            input.AdvanceTo(buffer.Start);
            await next(connection).ConfigureAwait(false);
            return;
        }
        input.AdvanceTo(buffer.GetPosition(headLength));
        _time ??= services.GetRequiredService<TimeProvider>();
        _options ??= services.GetRequiredService<IOptions<SwitchboardOptions>>().Value;

        var output = connection.Transport.Output;
        WebSocketHandshake.WriteAccept(output, key, protobuf);
        var flush = await output.FlushAsync().ConfigureAwait(false);
        if (flush.IsCompleted)
        {
            return;
        }
        var socket = new PipeWebSocket(connection, _time, protobuf ? ClientCodec.Protobuf : ClientCodec.Json);
        var client = _node.CreateClient(socket);
        try
        {
            await socket.RunAsync(client, _options.Client.MaxMessageBytes).ConfigureAwait(false);
        }
        finally
        {
            await client.OnTransportClosedAsync().ConfigureAwait(false);
            await client.Writer.ConfigureAwait(false);
        }
    }
}
