using System.Collections.Concurrent;
using Switchboard.Engine;
using Switchboard.Protocol;

namespace Switchboard.Sessions;

/// <summary>
/// This node's clients and the map channel → local subscriptions, sharded so that subscribes on
/// different channels do not contend. Fan-out iterates an immutable snapshot array of a channel's
/// subscriptions with no lock (rebuilt after a change) and serializes a publication once for all.
/// The map holds subscriptions, not clients: a client that resubscribes while its previous
/// subscription is still leaving has two entries for a moment, and each leaves only its own.
/// </summary>
internal sealed class Hub
{
    private const int ShardCount = 64;

    private readonly Shard[] _shards = [.. Enumerable.Range(0, ShardCount).Select(_ => new Shard())];
    private readonly SemaphoreSlim[] _brokerLocks = [.. Enumerable.Range(0, ShardCount).Select(_ => new SemaphoreSlim(1, 1))];
    private readonly ConcurrentDictionary<string, Client> _clients = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, Client>> _users = new(StringComparer.Ordinal);
    private readonly IBroker _broker;
    private readonly NodeMetrics _metrics;

    public Hub(IBroker broker, NodeMetrics metrics)
    {
        _broker = broker;
        _metrics = metrics;
    }

    public int ClientCount => _clients.Count;

    public int UserCount => _users.Count;

    public IEnumerable<Client> Clients => _clients.Values;

    public void AddClient(Client client)
    {
        _clients[client.Id] = client;
        _users.GetOrAdd(client.User, _ => new ConcurrentDictionary<string, Client>(StringComparer.Ordinal))[client.Id] = client;
    }

    public void RemoveClient(Client client)
    {
        if (!_clients.TryRemove(client.Id, out _))
        {
            return;
        }
        if (_users.TryGetValue(client.User, out var byId))
        {
            byId.TryRemove(client.Id, out _);
            if (byId.IsEmpty)
            {
                // Remove only if still empty: a racing AddClient re-creates the entry.
                _users.TryRemove(new KeyValuePair<string, ConcurrentDictionary<string, Client>>(client.User, byId));
            }
        }
    }

    public Client? FindClient(string clientId) => _clients.GetValueOrDefault(clientId);

    public IReadOnlyCollection<Client> UserClients(string user)
        => _users.TryGetValue(user, out var byId) ? [.. byId.Values] : [];

    /// <summary>Adds a local subscription; the channel's first on this node subscribes the node in the broker.</summary>
    public async Task AddSubscriptionAsync(ClientSubscription sub, CancellationToken cancellationToken)
    {
        var channel = sub.Channel;
        var index = ShardIndex(channel);
        var brokerLock = _brokerLocks[index];
        await brokerLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // The node already receives the channel when a long poll waits on it.
            var first = _shards[index].Add(channel, sub) && !Waiters.Has(channel);
            if (first)
            {
                try
                {
                    await _broker.SubscribeAsync(channel, cancellationToken).ConfigureAwait(false);
                }
                catch
                {
                    _shards[index].Remove(channel, sub);
                    throw;
                }
            }
        }
        finally
        {
            brokerLock.Release();
        }
    }

    /// <summary>Removes a local subscription; the channel's last unsubscribes the node in the broker.</summary>
    public async Task RemoveSubscriptionAsync(ClientSubscription sub, CancellationToken cancellationToken)
    {
        var channel = sub.Channel;
        var index = ShardIndex(channel);
        var brokerLock = _brokerLocks[index];
        await brokerLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_shards[index].Remove(channel, sub) && !Waiters.Has(channel))
            {
                await _broker.UnsubscribeAsync(channel, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            brokerLock.Release();
        }
    }

    public ClientSubscription[] Subscribers(string channel) => _shards[ShardIndex(channel)].Get(channel);

    /// <summary>The long polls waiting on channels of this node (see <see cref="ChannelWaiters"/>).</summary>
    public ChannelWaiters Waiters { get; } = new();

    /// <summary>
    /// Registers a long poll's waiter on a channel; the channel's first waiter with no local
    /// subscriber subscribes the node in the broker (so on Redis the node receives its publications).
    /// </summary>
    public async Task AddWaiterAsync(string channel, ChannelWaiter waiter, CancellationToken cancellationToken)
    {
        var index = ShardIndex(channel);
        var brokerLock = _brokerLocks[index];
        await brokerLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (Waiters.Add(channel, waiter) && !_shards[index].Has(channel))
            {
                try
                {
                    await _broker.SubscribeAsync(channel, cancellationToken).ConfigureAwait(false);
                }
                catch
                {
                    Waiters.Remove(channel, waiter);
                    throw;
                }
            }
        }
        finally
        {
            brokerLock.Release();
        }
    }

    /// <summary>Removes a waiter; the channel's last waiter with no local subscriber unsubscribes the node in the broker.</summary>
    public async Task RemoveWaiterAsync(string channel, ChannelWaiter waiter, CancellationToken cancellationToken)
    {
        var index = ShardIndex(channel);
        var brokerLock = _brokerLocks[index];
        await brokerLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (Waiters.Remove(channel, waiter) && !_shards[index].Has(channel))
            {
                await _broker.UnsubscribeAsync(channel, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            brokerLock.Release();
        }
    }

    /// <summary>Channels with local subscribers, and how many.</summary>
    public Dictionary<string, int> Channels()
    {
        var result = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var shard in _shards)
        {
            shard.CopyCounts(result);
        }
        return result;
    }

    public int SubscriptionCount => _shards.Sum(s => s.SubscriptionCount);

    public int ChannelCount => _shards.Sum(s => s.ChannelCount);

    /// <summary>Fan-out: one serialization per protocol in use, the same bytes queued for every local subscriber.</summary>
    public void BroadcastPublication(string channel, Publication publication)
    {
        Waiters.Signal(channel, publication);
        var subscribers = Subscribers(channel);
        if (subscribers.Length == 0)
        {
            return;
        }
        var push = new OutboundPush(new Push { Channel = channel, Pub = publication });
        foreach (var sub in subscribers)
        {
            sub.Client.DeliverPublication(sub, publication, push);
        }
        _metrics.PublicationsOut(subscribers.Length);
    }

    public void BroadcastJoinLeave(string channel, Push push)
    {
        var subscribers = Subscribers(channel);
        if (subscribers.Length == 0)
        {
            return;
        }
        var outbound = new OutboundPush(push);
        foreach (var sub in subscribers)
        {
            sub.Client.DeliverJoinLeave(sub, outbound);
        }
    }

    private static int ShardIndex(string channel) => (int)((uint)StringComparer.Ordinal.GetHashCode(channel) % ShardCount);

    private sealed class Shard
    {
        private readonly Lock _lock = new();
        // Sets changed under _lock; fan-out reads a channel's snapshot array without it.
        private readonly ConcurrentDictionary<string, ChannelSubscribers> _channels = new(StringComparer.Ordinal);
        private volatile int _subscriptions;

        public int SubscriptionCount => _subscriptions;

        public int ChannelCount => _channels.Count;

        public bool Has(string channel) => _channels.ContainsKey(channel);

        public ClientSubscription[] Get(string channel)
        {
            if (!_channels.TryGetValue(channel, out var subscribers))
            {
                return [];
            }
            var snapshot = subscribers.Snapshot;
            if (snapshot is not null)
            {
                return snapshot;
            }
            lock (_lock)
            {
                return subscribers.Snapshot ??= [.. subscribers.Set];
            }
        }

        // Returns true when this is the channel's first local subscriber.
        public bool Add(string channel, ClientSubscription client)
        {
            lock (_lock)
            {
                var first = false;
                if (!_channels.TryGetValue(channel, out var subscribers))
                {
                    subscribers = new ChannelSubscribers();
                    _channels[channel] = subscribers;
                    first = true;
                }
                if (subscribers.Set.Add(client))
                {
                    subscribers.Snapshot = null;
                    _subscriptions++;
                }
                return first;
            }
        }

        // Returns true when the channel has no local subscriber left.
        public bool Remove(string channel, ClientSubscription client)
        {
            lock (_lock)
            {
                if (!_channels.TryGetValue(channel, out var subscribers) || !subscribers.Set.Remove(client))
                {
                    return false;
                }
                _subscriptions--;
                subscribers.Snapshot = null;
                if (subscribers.Set.Count > 0)
                {
                    return false;
                }
                _channels.TryRemove(channel, out _);
                return true;
            }
        }

        public void CopyCounts(Dictionary<string, int> into)
        {
            lock (_lock)
            {
                foreach (var (channel, subscribers) in _channels)
                {
                    into[channel] = subscribers.Set.Count;
                }
            }
        }
    }

    /// <summary>
    /// One channel's local subscribers: a set changed in O(1) per subscribe or unsubscribe, and
    /// the array fan-out iterates, rebuilt by the first publication after a change (so a storm
    /// of N subscribes costs O(N), not O(N²) array copies, and the rebuild is no more than the
    /// fan-out it precedes).
    /// </summary>
    private sealed class ChannelSubscribers
    {
        public HashSet<ClientSubscription> Set { get; } = [];

        private volatile ClientSubscription[]? _snapshot;

        public ClientSubscription[]? Snapshot
        {
            get => _snapshot;
            set => _snapshot = value;
        }
    }
}
