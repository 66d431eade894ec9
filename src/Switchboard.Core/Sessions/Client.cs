using System.Buffers;
using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Switchboard.Protocol;

namespace Switchboard.Sessions;

/// <summary>
/// One client connection: its identity, its subscriptions, and its single outbound queue drained
/// by one writer loop. Commands of a connection are handled one at a time, in arrival order.
/// Publishers only ever enqueue here; they never wait for the client's socket.
/// </summary>
internal sealed partial class Client
{
    private readonly Node _node;
    private readonly ITransport _transport;
    private readonly ClientCodec _codec;
    // The outbound queue. Whoever finds the connection idle writes it out on its own thread (no
    // hand-off per message); a write that cannot complete at once continues asynchronously, and
    // everything queued behind it is joined into as few frames as possible.
    // Locked through the queue object itself (no separate lock object: one cache line fewer per delivery).
    private readonly Queue<ReadOnlyMemory<byte>> _queue = new();
    private bool _draining;   // under lock (_queue): a drain is running (inline or resumed)
    private bool _completed;  // under lock (_queue): the connection is closing; the drain then ends it

    private readonly TaskCompletionSource _writerDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SubscriptionSet _subscriptions = new();
    private readonly CancellationTokenSource _closed = new();
    private long _queuedBytes;
    private Disconnect? _disconnect;
    private volatile bool _abortWrites;
    private volatile bool _abortTransport; // set with _abortWrites by Disconnect(abort: true), which aborts the transport
    private int _cleanedUp;
    private volatile ClientState _state = ClientState.Connecting;

    // Heartbeat state, touched by the heartbeat sweep and the command loop.
    private readonly DateTimeOffset _createdAt;
    private DateTimeOffset _lastPingAt;
    private DateTimeOffset? _pongDeadline;
    private DateTimeOffset _nextPresenceAt;
    private long _writeStartedAt; // TimeProvider timestamp of the write in flight; 0 when idle

    // Command rate limiting: a token bucket per connection.
    private double _commandTokens;
    private long _commandRefilledAt;
    private int _floodStrikes;

    public Client(Node node, ITransport transport)
    {
        _node = node;
        _transport = transport;
        _codec = transport.Codec;
        _createdAt = node.Time.GetUtcNow();
        Id = Guid.NewGuid().ToString();
        if (transport.Emulation)
        {
            // The emulation endpoint finds the session by this id: unguessable, never shown to others.
            Session = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));
        }
        _commandTokens = node.Options.Client.CommandBurst;
        _commandRefilledAt = node.Time.GetTimestamp();
    }

    public string Id { get; }

    /// <summary>The emulation session id (HTTP-streaming and SSE); null for other transports.</summary>
    public string? Session { get; }

    /// <summary>The protocol this connection speaks.</summary>
    public ClientCodec Codec => _codec;

    public string User { get; private set; } = "";

    public RawJson ConnInfo { get; private set; }

    public string? ClientName { get; private set; }

    public string? ClientVersion { get; private set; }

    public DateTimeOffset? ExpireAt { get; private set; }

    public ClientState State => _state;

    public string TransportName => _transport.Name;

    /// <summary>Completes when the connection's writing has ended (after the close frame, if any).</summary>
    public Task Writer => _writerDone.Task;

    /// <summary>Cancelled when the connection is closed.</summary>
    public CancellationToken Closed => _closed.Token;

    public IReadOnlyCollection<string> Channels => [.. _subscriptions.Keys];

    public long QueuedBytes => Interlocked.Read(ref _queuedBytes);

    /// <summary>True while a write to the transport is in flight.</summary>
    public bool IsWriteInFlight => Volatile.Read(ref _writeStartedAt) != 0;

    /// <summary>The code this connection was (or is being) closed with; null while open.</summary>
    public int? DisconnectCode => _disconnect?.Code;

    internal ClientInfo Info(RawJson chanInfo = default) => new() { User = User, Client = Id, ConnInfo = ConnInfo, ChanInfo = chanInfo };

    /// <summary>
    /// Queues one message for the writer loop. Past the queue bound the client is too slow: it is
    /// closed with 3008 and the message is dropped (it will recover on reconnect).
    /// </summary>
    public bool Enqueue(ReadOnlyMemory<byte> message)
    {
        if (_disconnect is not null)
        {
            return false;
        }
        var queued = Interlocked.Add(ref _queuedBytes, message.Length);
        if (queued > _node.Options.Client.QueueMaxBytes)
        {
            Interlocked.Add(ref _queuedBytes, -message.Length);
            Log.SlowClient(_node.Logger, Id, queued);
            Disconnect(Protocol.Disconnect.Slow, abort: true);
            return false;
        }
        lock (_queue)
        {
            if (_completed)
            {
                Interlocked.Add(ref _queuedBytes, -message.Length);
                return false;
            }
            _queue.Enqueue(message);
            if (_draining)
            {
                return true;
            }
            _draining = true;
        }
        // Runs here, synchronously, until a write has to wait; then it continues on its own.
        _ = DrainAsync();
        return true;
    }

    private void EnqueueReply(Reply reply) => Enqueue(_codec.Encode(reply));

    private void EnqueuePush(Push push) => Enqueue(_codec.EncodePush(push));

    /// <summary>
    /// Closes the connection with a code. Queued messages are flushed first unless
    /// <paramref name="abort"/> is set (a slow client gets its close frame at once).
    /// </summary>
    public void Disconnect(Disconnect disconnect, bool abort = false)
    {
        if (Interlocked.CompareExchange(ref _disconnect, disconnect, null) is not null)
        {
            return;
        }
        Log.Disconnecting(_node.Logger, Id, User, disconnect.Code, disconnect.Reason);
        _node.Metrics.Disconnected(disconnect.Code);
        _abortWrites = abort;
        _abortTransport = abort;
        if (abort)
        {
            // Unblocks a write stuck on a peer that stopped reading, so a slow client is dropped now.
            _transport.Abort();
        }
        // Off the caller's thread: a publisher that tipped a slow client over its bound must not
        // do that client's cleanup (leaving channels, presence, leave messages) under its locks.
        if (Complete())
        {
            _ = Task.Run(DrainAsync);
        }
        _ = Task.Run(CleanupAsync);
    }

    // No more messages; true when no drain is running, so the caller must start the one that ends it.
    private bool Complete()
    {
        lock (_queue)
        {
            _completed = true;
            if (_draining)
            {
                return false;
            }
            _draining = true;
            return true;
        }
    }

    // Writes out the queue, joining queued messages into frames of at most MaxFrameBytes, until it
    // is empty (then the connection is idle again) or the connection is closing (then it sends the
    // close frame and cleans up). Exactly one drain runs at a time.
    private async Task DrainAsync()
    {
        var maxFrame = _node.Options.Client.MaxFrameBytes;
        var separator = _codec.Separator.Length;
        try
        {
            while (true)
            {
                ReadOnlyMemory<byte> frame;
                byte[]? rented = null;
                lock (_queue)
                {
                    if (_abortWrites)
                    {
                        break;
                    }
                    if (!_queue.TryDequeue(out frame))
                    {
                        if (_completed)
                        {
                            break;
                        }
                        _draining = false;
                        return;
                    }
                    var length = frame.Length;
                    if (_queue.TryPeek(out var next) && length + separator + next.Length <= maxFrame)
                    {
                        rented = ArrayPool<byte>.Shared.Rent(maxFrame);
                        frame.Span.CopyTo(rented);
                        while (_queue.TryPeek(out next) && length + separator + next.Length <= maxFrame)
                        {
                            _queue.Dequeue();
                            Interlocked.Add(ref _queuedBytes, -next.Length);
                            _codec.Separator.CopyTo(rented.AsSpan(length));
                            length += separator;
                            next.Span.CopyTo(rented.AsSpan(length));
                            length += next.Length;
                        }
                        Interlocked.Add(ref _queuedBytes, -frame.Length);
                        frame = rented.AsMemory(0, length);
                    }
                    else
                    {
                        Interlocked.Add(ref _queuedBytes, -frame.Length);
                    }
                }
                try
                {
                    await WriteAsync(frame).ConfigureAwait(false);
                }
                finally
                {
                    if (rented is not null)
                    {
                        ArrayPool<byte>.Shared.Return(rented);
                    }
                }
            }
        }
        catch (Exception) when (_abortWrites)
        {
            // Dropped on purpose (slow client, or the peer is gone): the aborted write fails.
        }
#pragma warning disable CA1031 // a failed write ends this connection only
        catch (Exception e)
#pragma warning restore CA1031
        {
            Log.WriteFailed(_node.Logger, Id, e);
            if (Interlocked.CompareExchange(ref _disconnect, Protocol.Disconnect.WriteError, null) is null)
            {
                _node.Metrics.Disconnected(DisconnectCodes.WriteError);
            }
            // Nothing more can be written: stop queueing, then end the connection below.
            lock (_queue)
            {
                _completed = true;
                _abortWrites = true;
            }
        }
        // Only the closing drain gets here: _completed is set and no other drain will start.
        // It may be running inline on a publisher's thread: the goodbye and cleanup go elsewhere.
        await Task.Yield();
        await CloseTransportAsync().ConfigureAwait(false);
        await CleanupAsync().ConfigureAwait(false);
        _writerDone.TrySetResult();
    }

    // Every write is timed: the heartbeat closes a connection whose write stalls (3009).
    private async Task WriteAsync(ReadOnlyMemory<byte> frame)
    {
        // The heartbeat's timestamp (no clock read per write): 3009 comes within a second of the timeout.
        Volatile.Write(ref _writeStartedAt, Math.Max(1, _node.CoarseTimestamp));
        await _transport.WriteAsync(frame, CancellationToken.None).ConfigureAwait(false);
        Volatile.Write(ref _writeStartedAt, 0);
        _node.Metrics.BytesOut(_transport.Name, frame.Length);
    }

    private async Task CloseTransportAsync()
    {
        var disconnect = _disconnect ?? Protocol.Disconnect.ConnectionClosed;
        if (_abortTransport)
        {
            return; // Disconnect(abort: true) has aborted the transport already
        }
        try
        {
            await _transport.CloseAsync(disconnect, CancellationToken.None).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // the peer may already be gone
        catch (Exception e)
#pragma warning restore CA1031
        {
            Log.CloseFailed(_node.Logger, Id, e);
        }
    }

    /// <summary>The transport saw the connection end (peer closed, network error).</summary>
    public Task OnTransportClosedAsync()
    {
        if (Interlocked.CompareExchange(ref _disconnect, Protocol.Disconnect.ConnectionClosed, null) is null)
        {
            _node.Metrics.Disconnected(DisconnectCodes.ConnectionClosed);
        }
        _abortWrites = true;
        if (IsWriteInFlight)
        {
            _transport.Abort(); // a write waiting on the dead peer would never finish
        }
        if (Complete())
        {
            _ = DrainAsync();
        }
        return CleanupAsync();
    }

    // Runs once: leaves every channel and forgets the client.
    private async Task CleanupAsync()
    {
        if (Interlocked.Exchange(ref _cleanedUp, 1) == 1)
        {
            return;
        }
        _state = ClientState.Closed;
        await _closed.CancelAsync().ConfigureAwait(false);
        _node.RemoveSession(this);
        await UncountUserConnectionAsync().ConfigureAwait(false);
        foreach (var channel in _subscriptions.Keys)
        {
            if (_subscriptions.TryRemove(channel, out var sub))
            {
                await LeaveChannelAsync(sub, CancellationToken.None).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Called by the node's heartbeat about once a second.</summary>
    public void OnHeartbeat(DateTimeOffset now)
    {
        var client = _node.Options.Client;
        switch (_state)
        {
            case ClientState.Connecting:
                if (now - _createdAt >= client.ConnectTimeout)
                {
                    Disconnect(Protocol.Disconnect.Stale);
                }
                return;
            case ClientState.Closed:
                return;
        }
        var writeStartedAt = Volatile.Read(ref _writeStartedAt);
        if (writeStartedAt != 0 && _node.Time.GetElapsedTime(writeStartedAt) >= client.WriteTimeout)
        {
            Disconnect(Protocol.Disconnect.WriteError, abort: true);
            return;
        }
        if (_pongDeadline is { } deadline && now >= deadline)
        {
            Disconnect(Protocol.Disconnect.NoPong);
            return;
        }
        if (ExpireAt is { } expireAt && now >= expireAt + client.ExpiredCloseDelay)
        {
            Disconnect(Protocol.Disconnect.Expired);
            return;
        }
        if (now - _lastPingAt >= client.PingInterval)
        {
            _lastPingAt = now;
            if (!_transport.Unidirectional)
            {
                _pongDeadline ??= now + client.PongTimeout;
            }
            Enqueue(_codec.Ping);
        }
        CheckSubscriptionExpiry(now);
        if (now >= _nextPresenceAt)
        {
            _nextPresenceAt = now + client.PresenceUpdateInterval;
            _ = RefreshPresenceAsync();
        }
    }
}

/// <summary>Where a connection is in its life.</summary>
internal enum ClientState
{
    Connecting,
    Connected,
    Closed,
}
