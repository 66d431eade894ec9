using System.Text;
using Switchboard.Engine;
using Switchboard.Protocol;

namespace Switchboard.Core.Tests.Engine;

/// <summary>What a broker delivered to a node.</summary>
public enum BrokerEventKind
{
    Publication,
    Join,
    Leave,

    /// <summary>The broker told the node that delivery of the channel was interrupted (publications may be missing).</summary>
    Interrupted,
}

/// <summary>One delivery: a publication, or a join/leave with the client's info.</summary>
public sealed record BrokerEvent(BrokerEventKind Kind, string Channel, Publication? Publication, ClientInfo? Info)
{
    public override string ToString() => Kind switch
    {
        BrokerEventKind.Publication => $"publication {Publication!.Offset} {Encoding.UTF8.GetString(Publication.Data.Utf8.Span)}",
        BrokerEventKind.Interrupted => "interrupted",
        _ => $"{Kind.ToString().ToLowerInvariant()} {Info!.User}/{Info.Client}",
    };
}

/// <summary>
/// A node's broker event handler that records every delivery. Delivery may be asynchronous (Redis
/// pub/sub): tests await "N events on channel C" with a real-time deadline rather than assuming
/// the publish call delivered before it returned.
/// </summary>
public sealed class CollectingHandler : IBrokerEventHandler
{
    /// <summary>How long a test waits for a delivery before failing.</summary>
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    private readonly List<BrokerEvent> _events = [];
    private readonly Lock _lock = new();
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void OnPublication(string channel, Publication publication) => Add(new BrokerEvent(BrokerEventKind.Publication, channel, publication, null));

    public void OnJoin(string channel, ClientInfo info) => Add(new BrokerEvent(BrokerEventKind.Join, channel, null, info));

    public void OnLeave(string channel, ClientInfo info) => Add(new BrokerEvent(BrokerEventKind.Leave, channel, null, info));

    public void OnChannelsInterrupted(IReadOnlyCollection<string> channels)
    {
        foreach (var channel in channels)
        {
            Add(new BrokerEvent(BrokerEventKind.Interrupted, channel, null, null));
        }
    }

    /// <summary>Everything delivered on the channel so far, in delivery order.</summary>
    public IReadOnlyList<BrokerEvent> Events(string channel)
    {
        lock (_lock)
        {
            return [.. _events.Where(e => e.Channel == channel)];
        }
    }

    /// <summary>Publications delivered on the channel so far, in delivery order.</summary>
    public IReadOnlyList<Publication> Publications(string channel)
        => [.. Events(channel).Where(e => e.Kind == BrokerEventKind.Publication).Select(e => e.Publication!)];

    /// <summary>Waits until at least <paramref name="count"/> publications arrived on the channel; returns all of them.</summary>
    public async Task<IReadOnlyList<Publication>> WaitForPublicationsAsync(string channel, int count)
    {
        var events = await WaitAsync(channel, es => es.Count(e => e.Kind == BrokerEventKind.Publication) >= count, $"{count} publication(s)");
        return [.. events.Where(e => e.Kind == BrokerEventKind.Publication).Select(e => e.Publication!)];
    }

    /// <summary>How many times delivery of the channel was reported interrupted so far.</summary>
    public int Interruptions(string channel) => Events(channel).Count(e => e.Kind == BrokerEventKind.Interrupted);

    /// <summary>Waits until the broker reports delivery of the channel interrupted.</summary>
    public Task WaitForInterruptionAsync(string channel)
        => WaitAsync(channel, es => es.Any(e => e.Kind == BrokerEventKind.Interrupted), "an interruption");

    /// <summary>Waits until at least <paramref name="count"/> events of any kind arrived on the channel; returns all of them.</summary>
    public Task<IReadOnlyList<BrokerEvent>> WaitForEventsAsync(string channel, int count)
        => WaitAsync(channel, es => es.Count >= count, $"{count} event(s)");

    private async Task<IReadOnlyList<BrokerEvent>> WaitAsync(string channel, Func<List<BrokerEvent>, bool> done, string what)
    {
        using var deadline = new CancellationTokenSource(Deadline);
        while (true)
        {
            Task changed;
            lock (_lock)
            {
                var events = _events.Where(e => e.Channel == channel).ToList();
                if (done(events))
                {
                    return events;
                }
                changed = _changed.Task;
            }
            try
            {
                await changed.WaitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                var seen = string.Join("; ", Events(channel));
                throw new TimeoutException($"Waited {Deadline.TotalSeconds} s for {what} on {channel}; received: [{seen}]");
            }
        }
    }

    private void Add(BrokerEvent e)
    {
        TaskCompletionSource changed;
        lock (_lock)
        {
            _events.Add(e);
            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        changed.SetResult();
    }
}
