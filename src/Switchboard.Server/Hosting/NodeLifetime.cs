using Switchboard.Sessions;

namespace Switchboard.Server.Hosting;

/// <summary>
/// On shutdown (SIGTERM or <c>StopApplication</c>) drains the node: readiness fails and new
/// connections are refused at once, then clients are closed with 3001 spread over the drain window.
/// This runs in <see cref="StoppingAsync"/>, before any hosted service stops: Kestrel's own stop
/// waits for open requests, and a WebSocket request only ends once its client is told to go.
/// At start it creates the server API, so commands other nodes send for this node's users are
/// applied even before anyone calls this node's own API.
/// </summary>
internal sealed class NodeLifetime(Node node, Switchboard.Api.ServerApi api) : IHostedLifecycleService
{
    private readonly Switchboard.Api.ServerApi _api = api;

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        try
        {
            await node.DrainAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The host's shutdown timeout won.
        }
    }

    public Task StartingAsync(CancellationToken cancellationToken)
    {
        GC.KeepAlive(_api);
        return Task.CompletedTask;
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
