namespace Switchboard.Engine;

/// <summary>
/// What nodes of one cluster share besides channels: control messages (node heartbeats,
/// server API commands that must reach the node holding a user) and cluster-wide counters.
/// The memory engine is a cluster of one: messages go nowhere, counters are the node's own.
/// </summary>
public interface IClusterControl
{
    /// <summary>True when other nodes may exist (messages really leave the process).</summary>
    bool IsDistributed { get; }

    /// <summary>Sets the handler of control messages from every node (this one's included). Called once, before any other call.</summary>
    void RegisterHandler(Action<ReadOnlyMemory<byte>> handler);

    /// <summary>Sends a control message to every node, this one included.</summary>
    Task BroadcastAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken);

    /// <summary>
    /// Starts delivering the messages sent to node <paramref name="nodeUid"/> alone
    /// (<see cref="SendToNodeAsync"/>) to <paramref name="handler"/>. Called once per node. The
    /// task completes once such messages can arrive (while the engine is away it keeps trying);
    /// a node announces itself to the others only then.
    /// </summary>
    Task ListenAsNodeAsync(string nodeUid, Action<ReadOnlyMemory<byte>> handler);

    /// <summary>
    /// Sends a message to one node (e.g. commands for a session it holds); it is lost when that
    /// node is gone.
    /// </summary>
    Task SendToNodeAsync(string nodeUid, ReadOnlyMemory<byte> message, CancellationToken cancellationToken);

    /// <summary>
    /// Counts a new connection of <paramref name="user"/> on node <paramref name="nodeUid"/> unless the
    /// user already has <paramref name="limit"/> connections on the live nodes; false when refused.
    /// <paramref name="registryComplete"/> says the caller has listened long enough to know every
    /// live node, so counts of nodes outside <paramref name="liveNodeUids"/> may be dropped.
    /// </summary>
    Task<bool> TryAddUserConnectionAsync(string user, string nodeUid, int limit, IReadOnlyCollection<string> liveNodeUids, bool registryComplete, CancellationToken cancellationToken);

    /// <summary>Uncounts a connection counted by <see cref="TryAddUserConnectionAsync"/>.</summary>
    Task RemoveUserConnectionAsync(string user, string nodeUid, CancellationToken cancellationToken);
}

/// <summary>The single node's control: nothing to send, nobody else to count.</summary>
public sealed class MemoryClusterControl : IClusterControl
{
    /// <inheritdoc/>
    public bool IsDistributed => false;

    /// <inheritdoc/>
    public void RegisterHandler(Action<ReadOnlyMemory<byte>> handler)
    {
    }

    /// <inheritdoc/>
    public Task BroadcastAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc/>
    public Task ListenAsNodeAsync(string nodeUid, Action<ReadOnlyMemory<byte>> handler) => Task.CompletedTask;

    /// <inheritdoc/>
    public Task SendToNodeAsync(string nodeUid, ReadOnlyMemory<byte> message, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc/>
    public Task<bool> TryAddUserConnectionAsync(string user, string nodeUid, int limit, IReadOnlyCollection<string> liveNodeUids, bool registryComplete, CancellationToken cancellationToken)
        => Task.FromResult(true);

    /// <inheritdoc/>
    public Task RemoveUserConnectionAsync(string user, string nodeUid, CancellationToken cancellationToken) => Task.CompletedTask;
}
