using Switchboard.Protocol;

namespace Switchboard.Engine;

/// <summary>
/// Moves publications between nodes and keeps channel streams (history). The memory engine does it
/// in-process; a Redis engine does it with pub/sub and streams. The core never sees which.
/// </summary>
public interface IBroker
{
    /// <summary>Sets the node's handler for events from the broker. Called once, before any other call.</summary>
    void RegisterEventHandler(IBrokerEventHandler handler);

    /// <summary>
    /// Publishes into a channel: appends to its stream when <paramref name="options"/> asks for
    /// history (assigning the next offset), then delivers to every node subscribed to the channel.
    /// A repeated idempotency key within its TTL returns the first result and publishes nothing.
    /// </summary>
    Task<PublishOutcome> PublishAsync(string channel, Publication publication, PublishOptions options, CancellationToken cancellationToken);

    /// <summary>Delivers a join message to every node subscribed to the channel.</summary>
    Task PublishJoinAsync(string channel, ClientInfo info, CancellationToken cancellationToken);

    /// <summary>Delivers a leave message to every node subscribed to the channel.</summary>
    Task PublishLeaveAsync(string channel, ClientInfo info, CancellationToken cancellationToken);

    /// <summary>Starts delivering the channel's events to this node.</summary>
    Task SubscribeAsync(string channel, CancellationToken cancellationToken);

    /// <summary>Stops delivering the channel's events to this node.</summary>
    Task UnsubscribeAsync(string channel, CancellationToken cancellationToken);

    /// <summary>
    /// Reads the channel's stream. Creates the stream's epoch when none exists, so every caller
    /// sees one stable position. Throws <see cref="ProtocolException"/> 112 when
    /// <see cref="HistoryQuery.Since"/> names another epoch.
    /// </summary>
    Task<HistoryPage> HistoryAsync(string channel, HistoryQuery query, CancellationToken cancellationToken);

    /// <summary>Removes the channel's publications, keeping its epoch and top offset.</summary>
    Task RemoveHistoryAsync(string channel, CancellationToken cancellationToken);
}

/// <summary>Receives what the broker delivers to this node, in publish order per channel.</summary>
public interface IBrokerEventHandler
{
    /// <summary>A publication for local subscribers of the channel.</summary>
    void OnPublication(string channel, Publication publication);

    /// <summary>A join message for local subscribers of the channel.</summary>
    void OnJoin(string channel, ClientInfo info);

    /// <summary>A leave message for local subscribers of the channel.</summary>
    void OnLeave(string channel, ClientInfo info);

    /// <summary>
    /// Delivery of these channels was interrupted (the broker's connection dropped and came back):
    /// publications may have been missed, so positioned subscribers must resubscribe and recover.
    /// </summary>
    void OnChannelsInterrupted(IReadOnlyCollection<string> channels);
}

/// <summary>History settings for one publish.</summary>
public sealed record PublishOptions
{
    /// <summary>Publications to keep; 0 keeps no history for this publish.</summary>
    public int HistorySize { get; init; }

    /// <summary>How long each publication is kept.</summary>
    public TimeSpan HistoryTtl { get; init; }

    /// <summary>How long the stream's epoch and offset outlive the last publish.</summary>
    public TimeSpan HistoryMetaTtl { get; init; }

    /// <summary>A repeat of this key within <see cref="IdempotentResultTtl"/> publishes nothing.</summary>
    public string? IdempotencyKey { get; init; }

    /// <summary>How long an idempotency key is remembered.</summary>
    public TimeSpan IdempotentResultTtl { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>True when this publish goes into the stream.</summary>
    public bool UseHistory => HistorySize > 0 && HistoryTtl > TimeSpan.Zero;
}

/// <summary>The result of a publish: the stream position it got (zero offset without history).</summary>
public sealed record PublishOutcome(StreamPosition Position, bool Suppressed);

/// <summary>A history read.</summary>
public sealed record HistoryQuery
{
    /// <summary>Read publications after (or, reversed, before) this position; null reads from the edge.</summary>
    public StreamPosition? Since { get; init; }

    /// <summary>Most publications to return; 0 returns only the position; negative returns all.</summary>
    public int Limit { get; init; }

    /// <summary>Newest first.</summary>
    public bool Reverse { get; init; }

    /// <summary>Meta TTL for a stream this call creates.</summary>
    public TimeSpan MetaTtl { get; init; } = TimeSpan.FromDays(30);
}

/// <summary>Publications read from a stream, and the stream's current position.</summary>
public sealed record HistoryPage(IReadOnlyList<Publication> Publications, StreamPosition Position);
