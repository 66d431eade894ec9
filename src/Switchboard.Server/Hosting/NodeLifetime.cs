using Switchboard.Protocol;
using Switchboard.Sessions;

namespace Switchboard.Server.Hosting;

/// <summary>
/// On shutdown, closes every client with 3001 so they reconnect elsewhere. This runs in
/// <see cref="StoppingAsync"/>, before any hosted service stops: Kestrel's own stop waits for open
/// requests, and a WebSocket request only ends once its client is told to go.
/// </summary>
internal sealed class NodeLifetime(Node node) : IHostedLifecycleService
{
    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        try
        {
            await node.DisconnectAllAsync(Disconnect.Shutdown).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Clients that did not close in time are dropped with the process.
        }
        catch (OperationCanceledException)
        {
            // The host's shutdown timeout won.
        }
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
