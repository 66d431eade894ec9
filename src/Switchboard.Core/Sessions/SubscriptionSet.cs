namespace Switchboard.Sessions;

/// <summary>
/// A client's subscriptions by channel: lock-free reads of an immutable snapshot (the fan-out
/// looks a channel up on every delivery), copy-on-write changes under a lock. Small sets are an
/// array searched in order; past <see cref="IndexThreshold"/> entries the snapshot is a
/// dictionary. A few hundred bytes per connection where a concurrent dictionary took about 1.5 KiB.
/// </summary>
internal sealed class SubscriptionSet
{
    private const int IndexThreshold = 8;
    // Either a ClientSubscription[] (small sets) or a Dictionary<string, ClientSubscription>;
    // never changed once published.
    private volatile object _snapshot = Array.Empty<ClientSubscription>();

    public int Count => Items(_snapshot).Count;

    /// <summary>The subscriptions at this moment (a snapshot: later changes do not show in it).</summary>
    public IReadOnlyCollection<ClientSubscription> Values => Items(_snapshot);

    public IEnumerable<string> Keys => Items(_snapshot).Select(s => s.Channel);

    private static IReadOnlyCollection<ClientSubscription> Items(object snapshot)
        => snapshot as ClientSubscription[] ?? (IReadOnlyCollection<ClientSubscription>)((Dictionary<string, ClientSubscription>)snapshot).Values;

    public bool ContainsKey(string channel) => Find(_snapshot, channel) is not null;

    public bool TryGetValue(string channel, out ClientSubscription subscription)
    {
        subscription = Find(_snapshot, channel)!;
        return subscription is not null;
    }

    public bool TryAdd(string channel, ClientSubscription subscription)
    {
        lock (this)
        {
            var current = _snapshot;
            if (Find(current, channel) is not null)
            {
                return false;
            }
            _snapshot = Create([.. Items(current), subscription]);
            return true;
        }
    }

    public bool TryRemove(string channel, out ClientSubscription subscription)
    {
        lock (this)
        {
            var current = _snapshot;
            subscription = Find(current, channel)!;
            if (subscription is null)
            {
                return false;
            }
            var removed = subscription;
            _snapshot = Create([.. Items(current).Where(s => !ReferenceEquals(s, removed))]);
            removed.Ended = true;
            return true;
        }
    }

    /// <summary>Removes exactly this subscription, if it is still the channel's current one.</summary>
    public bool TryRemove(ClientSubscription subscription)
    {
        lock (this)
        {
            var current = _snapshot;
            if (!ReferenceEquals(Find(current, subscription.Channel), subscription))
            {
                return false;
            }
            _snapshot = Create([.. Items(current).Where(s => !ReferenceEquals(s, subscription))]);
            subscription.Ended = true;
            return true;
        }
    }

    private static object Create(ClientSubscription[] items)
        => items.Length > IndexThreshold ? items.ToDictionary(s => s.Channel, StringComparer.Ordinal) : items;

    private static ClientSubscription? Find(object snapshot, string channel)
    {
        if (snapshot is not ClientSubscription[] items)
        {
            return ((Dictionary<string, ClientSubscription>)snapshot).GetValueOrDefault(channel);
        }
        foreach (var s in items)
        {
            if (string.Equals(s.Channel, channel, StringComparison.Ordinal))
            {
                return s;
            }
        }
        return null;
    }
}
