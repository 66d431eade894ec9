using Switchboard.Protocol;

namespace Switchboard.Engine;

/// <summary>Keeps who is subscribed to a channel, with a TTL the nodes refresh.</summary>
public interface IPresenceManager
{
    /// <summary>Adds or refreshes a client's presence in a channel.</summary>
    Task AddPresenceAsync(string channel, ClientInfo info, TimeSpan ttl, CancellationToken cancellationToken);

    /// <summary>Removes a client's presence from a channel.</summary>
    Task RemovePresenceAsync(string channel, string clientId, CancellationToken cancellationToken);

    /// <summary>Every live presence entry of a channel, by client id.</summary>
    Task<IReadOnlyDictionary<string, ClientInfo>> PresenceAsync(string channel, CancellationToken cancellationToken);

    /// <summary>Counts of clients and distinct users in a channel.</summary>
    Task<PresenceStats> PresenceStatsAsync(string channel, CancellationToken cancellationToken);
}

/// <summary>Counts of a channel's presence.</summary>
public sealed record PresenceStats(int NumClients, int NumUsers);
