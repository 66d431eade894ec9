using System.Security.Cryptography;
using Switchboard.Protocol;

namespace Switchboard.Engine;

/// <summary>
/// The single-node broker: delivery is a direct call into the node, streams live in process
/// memory. A restart loses every stream, so every stream gets a new epoch and clients are told
/// they could not recover.
/// </summary>
public sealed class MemoryBroker : IBroker, IDisposable
{
    private const int StripeCount = 256;

    private readonly TimeProvider _time;
    private readonly Dictionary<string, ChannelStream> _streams = new(StringComparer.Ordinal);
    private readonly Lock _streamsLock = new();
    private readonly Dictionary<(string Channel, string Key), (PublishOutcome Outcome, DateTimeOffset ExpireAt)> _idempotency = [];
    private readonly Lock _idempotencyLock = new();
    private readonly Lock[] _stripes = [.. Enumerable.Range(0, StripeCount).Select(_ => new Lock())];
    private readonly ITimer _sweeper;
    private IBrokerEventHandler? _handler;

    /// <summary>Creates the broker; expired streams and idempotency keys are swept once a minute.</summary>
    public MemoryBroker(TimeProvider time)
    {
        _time = time;
        _sweeper = time.CreateTimer(_ => Sweep(), null, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1));
    }

    private IBrokerEventHandler Handler => _handler ?? throw new InvalidOperationException("No broker event handler registered.");

    /// <inheritdoc/>
    public void RegisterEventHandler(IBrokerEventHandler handler) => _handler = handler;

    /// <inheritdoc/>
    public Task<PublishOutcome> PublishAsync(string channel, Publication publication, PublishOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(publication);
        ArgumentNullException.ThrowIfNull(options);
        var now = _time.GetUtcNow();
        if (options.IdempotencyKey is { Length: > 0 } key)
        {
            // Held across the publish so that two concurrent repeats of one key publish once.
            lock (_idempotencyLock)
            {
                if (_idempotency.TryGetValue((channel, key), out var seen) && seen.ExpireAt > now)
                {
                    return Task.FromResult(seen.Outcome with { Suppressed = true });
                }
                var outcome = PublishCore(channel, publication, options, now);
                _idempotency[(channel, key)] = (outcome, now + options.IdempotentResultTtl);
                return Task.FromResult(outcome);
            }
        }
        return Task.FromResult(PublishCore(channel, publication, options, now));
    }

    private PublishOutcome PublishCore(string channel, Publication publication, PublishOptions options, DateTimeOffset now)
    {
        if (!options.UseHistory)
        {
            lock (Stripe(channel))
            {
                Handler.OnPublication(channel, publication);
            }
            return new PublishOutcome(new StreamPosition(), false);
        }
        while (true)
        {
            var stream = GetOrCreateStream(channel, options.HistoryMetaTtl, now);
            lock (stream.Lock)
            {
                if (stream.Removed)
                {
                    continue;
                }
                var offset = stream.Append(publication, options, now);
                Handler.OnPublication(channel, publication);
                return new PublishOutcome(new StreamPosition { Offset = offset, Epoch = stream.Epoch }, false);
            }
        }
    }

    /// <inheritdoc/>
    public Task PublishJoinAsync(string channel, ClientInfo info, CancellationToken cancellationToken)
    {
        lock (Stripe(channel))
        {
            Handler.OnJoin(channel, info);
        }
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public Task PublishLeaveAsync(string channel, ClientInfo info, CancellationToken cancellationToken)
    {
        lock (Stripe(channel))
        {
            Handler.OnLeave(channel, info);
        }
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public Task SubscribeAsync(string channel, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc/>
    public Task UnsubscribeAsync(string channel, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc/>
    public Task<HistoryPage> HistoryAsync(string channel, HistoryQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        var now = _time.GetUtcNow();
        while (true)
        {
            var stream = GetOrCreateStream(channel, query.MetaTtl, now);
            lock (stream.Lock)
            {
                if (stream.Removed)
                {
                    continue;
                }
                if (query.Since is { } since && since.Epoch != stream.Epoch)
                {
                    throw new ProtocolException(ErrorCodes.UnrecoverablePosition, "unrecoverable position");
                }
                return Task.FromResult(stream.Read(query, now));
            }
        }
    }

    /// <inheritdoc/>
    public Task RemoveHistoryAsync(string channel, CancellationToken cancellationToken)
    {
        ChannelStream? stream;
        lock (_streamsLock)
        {
            _streams.TryGetValue(channel, out stream);
        }
        if (stream is not null)
        {
            lock (stream.Lock)
            {
                stream.Clear();
            }
        }
        return Task.CompletedTask;
    }

    /// <summary>The number of streams held (for tests and metrics).</summary>
    internal int StreamCount
    {
        get
        {
            lock (_streamsLock)
            {
                return _streams.Count;
            }
        }
    }

    private Lock Stripe(string channel) => _stripes[(uint)StringComparer.Ordinal.GetHashCode(channel) % StripeCount];

    private ChannelStream GetOrCreateStream(string channel, TimeSpan metaTtl, DateTimeOffset now)
    {
        lock (_streamsLock)
        {
            if (_streams.TryGetValue(channel, out var stream))
            {
                if (!stream.MetaExpired(now))
                {
                    return stream;
                }
                RemoveStream(channel, stream);
            }
            stream = new ChannelStream(NewEpoch(), now + metaTtl);
            _streams[channel] = stream;
            return stream;
        }
    }

    // Called with _streamsLock held.
    private void RemoveStream(string channel, ChannelStream stream)
    {
        lock (stream.Lock)
        {
            stream.Removed = true;
        }
        _streams.Remove(channel);
    }

    /// <summary>Drops streams past their meta TTL and idempotency keys past theirs.</summary>
    internal void Sweep()
    {
        var now = _time.GetUtcNow();
        lock (_streamsLock)
        {
            foreach (var (channel, stream) in _streams.Where(s => s.Value.MetaExpired(now)).ToList())
            {
                RemoveStream(channel, stream);
            }
        }
        lock (_idempotencyLock)
        {
            foreach (var key in _idempotency.Where(e => e.Value.ExpireAt <= now).Select(e => e.Key).ToList())
            {
                _idempotency.Remove(key);
            }
        }
    }

    private static string NewEpoch() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));

    /// <inheritdoc/>
    public void Dispose() => _sweeper.Dispose();

    private sealed class ChannelStream(string epoch, DateTimeOffset metaExpireAt)
    {
        private readonly List<(Publication Pub, DateTimeOffset ExpireAt)> _items = [];

        public Lock Lock { get; } = new();
        public string Epoch { get; } = epoch;
        public ulong Top { get; private set; }
        public bool Removed { get; set; }
        private DateTimeOffset _metaExpireAt = metaExpireAt;

        public bool MetaExpired(DateTimeOffset now) => now >= _metaExpireAt;

        public ulong Append(Publication publication, PublishOptions options, DateTimeOffset now)
        {
            Top++;
            publication.Offset = Top;
            publication.Epoch = Epoch;
            _items.Add((publication, now + options.HistoryTtl));
            var excess = _items.Count - options.HistorySize;
            if (excess > 0)
            {
                _items.RemoveRange(0, excess);
            }
            var metaExpireAt = now + options.HistoryMetaTtl;
            if (metaExpireAt > _metaExpireAt)
            {
                _metaExpireAt = metaExpireAt;
            }
            return Top;
        }

        public void Clear() => _items.Clear();

        public HistoryPage Read(HistoryQuery query, DateTimeOffset now)
        {
            // Publications expire in order: drop those past their TTL from the front.
            var expired = 0;
            while (expired < _items.Count && _items[expired].ExpireAt <= now)
            {
                expired++;
            }
            if (expired > 0)
            {
                _items.RemoveRange(0, expired);
            }
            var position = new StreamPosition { Offset = Top, Epoch = Epoch };
            if (query.Limit == 0 || _items.Count == 0)
            {
                return new HistoryPage([], position);
            }
            var first = _items[0].Pub.Offset;
            var limit = query.Limit < 0 ? int.MaxValue : query.Limit;
            var result = new List<Publication>(Math.Min(limit, _items.Count));
            if (!query.Reverse)
            {
                // Offsets in the list are contiguous: index of offset o is o - first.
                var start = query.Since is { } since ? (long)since.Offset + 1 - (long)first : 0;
                for (var i = Math.Max(0, start); i < _items.Count && result.Count < limit; i++)
                {
                    result.Add(_items[(int)i].Pub);
                }
            }
            else
            {
                var end = query.Since is { } since ? (long)since.Offset - 1 - (long)first : _items.Count - 1;
                for (var i = Math.Min(end, _items.Count - 1); i >= 0 && result.Count < limit; i--)
                {
                    result.Add(_items[(int)i].Pub);
                }
            }
            return new HistoryPage(result, position);
        }
    }
}
