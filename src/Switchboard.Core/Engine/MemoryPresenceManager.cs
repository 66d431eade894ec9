using Switchboard.Protocol;

namespace Switchboard.Engine;

/// <summary>Presence kept in process memory, each entry living until its TTL unless refreshed.</summary>
public sealed class MemoryPresenceManager(TimeProvider time) : IPresenceManager
{
    private readonly Dictionary<string, Dictionary<string, (ClientInfo Info, DateTimeOffset ExpireAt)>> _channels = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    /// <inheritdoc/>
    public Task AddPresenceAsync(string channel, ClientInfo info, TimeSpan ttl, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(info);
        lock (_lock)
        {
            if (!_channels.TryGetValue(channel, out var entries))
            {
                entries = new Dictionary<string, (ClientInfo, DateTimeOffset)>(StringComparer.Ordinal);
                _channels[channel] = entries;
            }
            entries[info.Client] = (info, time.GetUtcNow() + ttl);
        }
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public Task RemovePresenceAsync(string channel, string clientId, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_channels.TryGetValue(channel, out var entries) && entries.Remove(clientId) && entries.Count == 0)
            {
                _channels.Remove(channel);
            }
        }
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public Task<IReadOnlyDictionary<string, ClientInfo>> PresenceAsync(string channel, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return Task.FromResult<IReadOnlyDictionary<string, ClientInfo>>(Live(channel).ToDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal));
        }
    }

    /// <inheritdoc/>
    public Task<PresenceStats> PresenceStatsAsync(string channel, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            var live = Live(channel);
            return Task.FromResult(new PresenceStats(live.Count, live.Values.Select(i => i.User).Distinct(StringComparer.Ordinal).Count()));
        }
    }

    // Called with _lock held: drops expired entries and returns the rest.
    private Dictionary<string, ClientInfo> Live(string channel)
    {
        var result = new Dictionary<string, ClientInfo>(StringComparer.Ordinal);
        if (!_channels.TryGetValue(channel, out var entries))
        {
            return result;
        }
        var now = time.GetUtcNow();
        foreach (var (client, (info, expireAt)) in entries.ToList())
        {
            if (expireAt <= now)
            {
                entries.Remove(client);
            }
            else
            {
                result[client] = info;
            }
        }
        if (entries.Count == 0)
        {
            _channels.Remove(channel);
        }
        return result;
    }
}
