using System.Collections.Concurrent;

namespace Switchboard.Sessions;

/// <summary>
/// One long poll waiting for its channels: signalled by any publication in any of them (or a
/// broker interruption), then the poll reads the streams again. Signals are not counted, only
/// noticed: the stream, not the signal, says what arrived.
/// </summary>
internal sealed class ChannelWaiter
{
    private TaskCompletionSource _signal = NewSignal();

    /// <summary>Completes when a publication arrived in one of the channels since the last <see cref="Rearm"/>.</summary>
    public Task Signaled => Volatile.Read(ref _signal).Task;

    /// <summary>Called on the publisher's path: completes the signal (its continuation runs elsewhere).</summary>
    public void Signal() => Volatile.Read(ref _signal).TrySetResult();

    /// <summary>
    /// Starts a new wait. Call it before reading the streams again: a publication that lands
    /// between the read and the wait then completes the new signal, so it is never missed.
    /// </summary>
    public void Rearm() => Volatile.Write(ref _signal, NewSignal());

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>
/// The long polls waiting on this node, by channel. Changed only under the hub's broker lock of the
/// channel's shard (so "has waiters" and the broker subscription agree); read on every publication.
/// </summary>
internal sealed class ChannelWaiters
{
    // A set per channel: O(1) to add or remove a poll even with thousands on one channel.
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<ChannelWaiter, byte>> _byChannel = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private int _polls;

    /// <summary>Long polls registered now (each counts as a connection of transport <c>long_poll</c>).</summary>
    public int PollCount => Volatile.Read(ref _polls);

    /// <summary>Channels with at least one waiter.</summary>
    public int ChannelCount => _byChannel.Count;

    /// <summary>Counts a poll in (its waiter is about to be registered on its channels).</summary>
    public void PollStarted() => Interlocked.Increment(ref _polls);

    /// <summary>Counts a poll out.</summary>
    public void PollEnded() => Interlocked.Decrement(ref _polls);

    public bool Has(string channel) => _byChannel.ContainsKey(channel);

    /// <summary>Adds a waiter; true when it is the channel's first.</summary>
    public bool Add(string channel, ChannelWaiter waiter)
    {
        lock (_lock)
        {
            var first = false;
            if (!_byChannel.TryGetValue(channel, out var waiters))
            {
                waiters = new ConcurrentDictionary<ChannelWaiter, byte>();
                _byChannel[channel] = waiters;
                first = true;
            }
            waiters[waiter] = 0;
            return first;
        }
    }

    /// <summary>Removes a waiter; true when the channel has none left.</summary>
    public bool Remove(string channel, ChannelWaiter waiter)
    {
        lock (_lock)
        {
            if (!_byChannel.TryGetValue(channel, out var waiters) || !waiters.TryRemove(waiter, out _))
            {
                return false;
            }
            if (!waiters.IsEmpty)
            {
                return false;
            }
            _byChannel.TryRemove(channel, out _);
            return true;
        }
    }

    /// <summary>Wakes every poll waiting on the channel (nothing to do, and no allocation, when none waits).</summary>
    public void Signal(string channel)
    {
        if (_byChannel.IsEmpty || !_byChannel.TryGetValue(channel, out var waiters))
        {
            return;
        }
        foreach (var (waiter, _) in waiters)
        {
            waiter.Signal();
        }
    }
}
