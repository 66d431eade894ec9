using System.Threading.Channels;

namespace Switchboard.Client;

/// <summary>
/// Raises events one at a time in the order they were posted, on a loop of its own, so a handler
/// never runs under the client's lock nor holds up the reader of the connection.
/// </summary>
internal sealed class EventQueue
{
    private readonly Channel<Action> _queue = Channel.CreateUnbounded<Action>(new UnboundedChannelOptions { SingleReader = true });

    public EventQueue() => Completion = Task.Run(RunAsync);

    /// <summary>Completes when the queue is closed and every posted event has been raised.</summary>
    public Task Completion { get; }

    public void Post(Action raise) => _queue.Writer.TryWrite(raise);

    public void Complete() => _queue.Writer.TryComplete();

    private async Task RunAsync()
    {
        await foreach (var raise in _queue.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            try
            {
                raise();
            }
            catch (Exception)
            {
                // A failing handler must not stop the events of everyone else.
            }
        }
    }
}
