using System.Collections.Concurrent;
using Switchboard.Protocol;

namespace Switchboard.Sessions;

/// <summary>
/// One long poll waiting for its channels: signalled by any publication in any of them (or a
/// broker interruption). It keeps what arrived since it was last armed, so a woken poll can
/// usually answer without reading the streams again; when it cannot be sure it has everything
/// (an interruption, too much arrived) it says so, and the poll reads the streams.
/// </summary>
internal sealed class ChannelWaiter(int maxPublications)
{
    private readonly Lock _lock = new();
    private TaskCompletionSource _signal = NewSignal();
    private Dictionary<string, List<Publication>>? _arrived;
    private bool _mustRead;

    /// <summary>Completes when something arrived in one of the channels since the last <see cref="Rearm"/>.</summary>
    public Task Signaled
    {
        get
        {
            lock (_lock)
            {
                return _signal.Task;
            }
        }
    }

    /// <summary>
    /// Called on the publisher's path with a publication of one of the channels, or with none when
    /// the broker may have lost some. The publication and the signal it completes are taken
    /// together under the lock, so <see cref="Rearm"/> never separates them.
    /// </summary>
    public void Signal(string channel, Publication? publication)
    {
        TaskCompletionSource signal;
        lock (_lock)
        {
            if (publication is null)
            {
                _mustRead = true;
            }
            else if (!_mustRead)
            {
                _arrived ??= new Dictionary<string, List<Publication>>(StringComparer.Ordinal);
                ref var list = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_arrived, channel, out _);
                list ??= [];
                if (list.Count >= maxPublications)
                {
                    _mustRead = true; // more than one answer holds: the stream has them
                    _arrived = null;
                }
                else
                {
                    list.Add(publication);
                }
            }
            signal = _signal;
        }
        signal.TrySetResult(); // its continuation runs elsewhere
    }

    /// <summary>
    /// Starts a new wait and returns what arrived during the last one (per channel, in delivery
    /// order), or <c>MustRead</c> when the streams must be read instead.
    /// </summary>
    public (Dictionary<string, List<Publication>>? Arrived, bool MustRead) Rearm()
    {
        lock (_lock)
        {
            var taken = (_arrived, _mustRead);
            _arrived = null;
            _mustRead = false;
            _signal = NewSignal();
            return taken;
        }
    }

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

    /// <summary>
    /// Wakes every poll waiting on the channel with a publication, or with none when the broker
    /// may have lost some (nothing to do, and no allocation, when none waits).
    /// </summary>
    public void Signal(string channel, Publication? publication)
    {
        if (_byChannel.IsEmpty || !_byChannel.TryGetValue(channel, out var waiters))
        {
            return;
        }
        foreach (var (waiter, _) in waiters)
        {
            waiter.Signal(channel, publication);
        }
    }
}
