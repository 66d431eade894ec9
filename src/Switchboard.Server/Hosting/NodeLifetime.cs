using Switchboard.Protocol;
using Switchboard.Sessions;

namespace Switchboard.Server.Hosting;

/// <summary>Starts the node with the host and, on shutdown, closes every client with 3001 so they reconnect elsewhere.</summary>
internal sealed class NodeLifetime(Node node) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StopAsync(CancellationToken cancellationToken)
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
}
