namespace Switchboard.Sessions;

/// <summary>
/// A client's subscriptions by channel: lock-free reads of an immutable snapshot (the fan-out
/// looks a channel up on every delivery), copy-on-write changes under a lock. Small sets are an
/// array searched in order; past <see cref="IndexThreshold"/> entries the snapshot carries a
/// dictionary. A few hundred bytes per connection where a concurrent dictionary took about 1.5 KiB.
/// </summary>
internal sealed class SubscriptionSet
{
    private const int IndexThreshold = 8;
    private static readonly Snapshot Empty = new([], null);

    private volatile Snapshot _snapshot = Empty;

    public int Count => _snapshot.Items.Length;

    /// <summary>The subscriptions at this moment (a snapshot: later changes do not show in it).</summary>
    public IReadOnlyList<ClientSubscription> Values => _snapshot.Items;

    public IEnumerable<string> Keys => _snapshot.Items.Select(s => s.Channel);

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
            _snapshot = Create([.. current.Items, subscription]);
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
            _snapshot = current.Items.Length == 1 ? Empty : Create([.. current.Items.Where(s => !ReferenceEquals(s, removed))]);
            return true;
        }
    }

    private static Snapshot Create(ClientSubscription[] items) => new(
        items,
        items.Length > IndexThreshold ? items.ToDictionary(s => s.Channel, StringComparer.Ordinal) : null);

    private static ClientSubscription? Find(Snapshot snapshot, string channel)
    {
        if (snapshot.Index is { } index)
        {
            return index.GetValueOrDefault(channel);
        }
        foreach (var s in snapshot.Items)
        {
            if (string.Equals(s.Channel, channel, StringComparison.Ordinal))
            {
                return s;
            }
        }
        return null;
    }

    private sealed record Snapshot(ClientSubscription[] Items, Dictionary<string, ClientSubscription>? Index);
}
