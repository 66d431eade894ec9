using System.Collections.Concurrent;
using System.Reflection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Switchboard.Auth;
using Switchboard.Channels;
using Switchboard.Engine;
using Switchboard.Protocol;

namespace Switchboard.Sessions;

/// <summary>
/// This server process: its sessions, its hub, the engine it talks to, and the one heartbeat
/// that sweeps every session (pings, pong deadlines, connect deadlines, expiries, presence).
/// </summary>
internal sealed class Node : IBrokerEventHandler, IDisposable
{
    private readonly ConcurrentDictionary<Client, byte> _sessions = new();
    private readonly ConcurrentDictionary<string, Client> _emulationSessions = new(StringComparer.Ordinal);
    private readonly Handlers _handlers;
    private readonly ITimer _heartbeat;

    public Node(
        IOptions<SwitchboardOptions> options,
        ChannelPolicy policy,
        TokenValidator tokens,
        IBroker broker,
        IPresenceManager presence,
        IClusterControl control,
        TimeProvider time,
        NodeMetrics metrics,
        Handlers handlers,
        ILogger<Node> logger)
    {
        Options = options.Value;
        Policy = policy;
        Tokens = tokens;
        Broker = broker;
        Presence = presence;
        Time = time;
        Metrics = metrics;
        Logger = logger;
        Name = Options.NodeName;
        Hub = new Hub(broker, metrics);
        StartedAt = time.GetUtcNow();
        _handlers = handlers;
        broker.RegisterEventHandler(this);
        metrics.Observe(this);
        _coarseTimestamp = time.GetTimestamp();
        _heartbeat = time.CreateTimer(_ => Sweep(), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        Cluster = new Cluster(this, control);
    }

    /// <summary>Unique id of this process in the cluster.</summary>
    public string Uid { get; } = Guid.NewGuid().ToString();

    /// <summary>The other nodes and the control messages between them.</summary>
    public Cluster Cluster { get; }

    /// <summary>This node's counts, as <c>info</c> reports them.</summary>
    public Api.NodeInfo Info() => new()
    {
        Uid = Uid,
        Name = Name,
        Version = Version,
        NumClients = Hub.ClientCount,
        NumUsers = Hub.UserCount,
        NumChannels = Hub.ChannelCount,
        NumSubs = Hub.SubscriptionCount,
        Uptime = (long)(Time.GetUtcNow() - StartedAt).TotalSeconds,
    };

    public SwitchboardOptions Options { get; }
    public ChannelPolicy Policy { get; }
    public TokenValidator Tokens { get; }
    public IBroker Broker { get; }
    public IPresenceManager Presence { get; }
    public TimeProvider Time { get; }
    public NodeMetrics Metrics { get; }
    public ILogger Logger { get; }
    public Hub Hub { get; }
    public string Name { get; }
    public DateTimeOffset StartedAt { get; }
    public IReadOnlyList<ISendHandler> SendHandlers => _handlers.Send;
    public IChannelAuthorizer[] ChannelAuthorizers => _handlers.Authorizers;

    public string Version { get; } = typeof(Node).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    private long _coarseTimestamp;

    /// <summary>
    /// The <see cref="TimeProvider"/> timestamp of the last heartbeat (at most a second old): for
    /// timing on hot paths where a clock read per call would cost more than the precision is worth.
    /// </summary>
    public long CoarseTimestamp => Volatile.Read(ref _coarseTimestamp);

    /// <summary>Every open session, connected or not.</summary>
    public int SessionCount => _sessions.Count;

    /// <summary>Set when shutdown begins: readiness fails and new connections are refused.</summary>
    public bool Draining { get; private set; }

    private readonly TaskCompletionSource _drainStarted = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when the drain has begun (for tests and diagnostics).</summary>
    internal Task DrainStarted => _drainStarted.Task;

    /// <summary>Every open session (for tests and diagnostics).</summary>
    internal IEnumerable<Client> Sessions => _sessions.Keys;

    /// <summary>Whether a new connection may be accepted now; the reason when not.</summary>
    public string? RefuseReason()
    {
        if (Draining)
        {
            return "draining";
        }
        var max = Options.Client.MaxConnections;
        return max > 0 && _sessions.Count + Hub.Waiters.PollCount >= max ? "connection_limit" : null;
    }

    public IEnumerable<System.Diagnostics.Metrics.Measurement<int>> ConnectionsByTransport()
    {
        var measurements = _sessions.Keys.GroupBy(c => c.TransportName)
            .Select(g => new System.Diagnostics.Metrics.Measurement<int>(g.Count(), new KeyValuePair<string, object?>("transport", g.Key)));
        // A waiting long poll is a connection too, though it has no session.
        var polls = Hub.Waiters.PollCount;
        return polls == 0 ? measurements
            : measurements.Append(new System.Diagnostics.Metrics.Measurement<int>(polls, new KeyValuePair<string, object?>("transport", LongPoll.TransportName)));
    }

    public (long Total, long Max) QueuedBytes()
    {
        long total = 0, max = 0;
        foreach (var client in _sessions.Keys)
        {
            var queued = client.QueuedBytes;
            total += queued;
            max = Math.Max(max, queued);
        }
        return (total, max);
    }

    public IRpcHandler? FindRpcHandler(string method) => _handlers.Rpc(method);

    /// <summary>Starts a session for a new transport connection.</summary>
    public Client CreateClient(ITransport transport)
    {
        var client = new Client(this, transport);
        _sessions[client] = 0;
        if (client.Session is { } session)
        {
            _emulationSessions[session] = client;
        }
        return client;
    }

    /// <summary>The HTTP-streaming or SSE session on this node with that id, if any.</summary>
    public Client? FindEmulationSession(string session) => _emulationSessions.GetValueOrDefault(session);

    internal void RemoveSession(Client client)
    {
        _sessions.TryRemove(client, out _);
        if (client.Session is { } session)
        {
            _emulationSessions.TryRemove(session, out _);
        }
        Hub.RemoveClient(client);
    }

    /// <summary>One pass of the heartbeat over every session.</summary>
    internal void Sweep()
    {
        Volatile.Write(ref _coarseTimestamp, Time.GetTimestamp());
        var now = Time.GetUtcNow();
        foreach (var client in _sessions.Keys)
        {
            client.OnHeartbeat(now);
        }
    }

    /// <summary>Reads history for a client or the server API, with the configured page limit.</summary>
    public Task<HistoryPage> ReadHistoryAsync(ChannelRule rule, int limit, StreamPosition? since, bool reverse, CancellationToken ct)
    {
        var max = Options.Client.HistoryMaxPublicationLimit;
        var effective = limit < 0 ? max : Math.Min(limit, max);
        return Broker.HistoryAsync(rule.Channel, new HistoryQuery
        {
            Limit = effective,
            Since = since,
            Reverse = reverse,
            MetaTtl = rule.Options.HistoryMetaTtl,
        }, ct);
    }

    /// <summary>
    /// Graceful shutdown: stops accepting connections, then closes every session with 3001 in
    /// batches spread with jitter over the drain window, so clients do not all come back at once.
    /// Returns when every session is gone or the window (plus a short grace) has passed.
    /// </summary>
    public async Task DrainAsync(CancellationToken cancellationToken)
    {
        Draining = true;
        _drainStarted.TrySetResult();
        var window = Options.Drain.Window;
        var clients = _sessions.Keys.ToList();
        var batches = Math.Max(1, Math.Min(Options.Drain.Batches, clients.Count));
        Random.Shared.Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(clients));
        var slot = window / batches;
        var started = Time.GetUtcNow();
        for (var b = 0; b < batches; b++)
        {
            // Batch b goes at a random moment within its slot of the window.
            var at = started + slot * b + slot * Random.Shared.NextDouble();
            var wait = at - Time.GetUtcNow();
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, Time, cancellationToken).ConfigureAwait(false);
            }
            for (var i = b; i < clients.Count; i += batches)
            {
                clients[i].Disconnect(Protocol.Disconnect.Shutdown);
            }
        }
        // Anyone who connected while the drain ran (should be none) goes too.
        foreach (var client in _sessions.Keys)
        {
            client.Disconnect(Protocol.Disconnect.Shutdown);
        }
        var remaining = started + window + TimeSpan.FromSeconds(1) - Time.GetUtcNow();
        try
        {
            await Task.WhenAll(_sessions.Keys.Select(c => c.Writer)).WaitAsync(remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero, Time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Clients that did not close in time are dropped with the process.
        }
        await Cluster.LeaveAsync().ConfigureAwait(false);
    }

    public void OnPublication(string channel, Publication publication) => Hub.BroadcastPublication(channel, publication);

    public void OnJoin(string channel, ClientInfo info) => Hub.BroadcastJoinLeave(channel, new Push { Channel = channel, Join = new JoinPush { Info = info } });

    public void OnLeave(string channel, ClientInfo info) => Hub.BroadcastJoinLeave(channel, new Push { Channel = channel, Leave = new LeavePush { Info = info } });

    /// <summary>The broker lost these channels' deliveries for a while: positioned subscribers resubscribe and recover.</summary>
    public void OnChannelsInterrupted(IReadOnlyCollection<string> channels)
    {
        foreach (var channel in channels)
        {
            Hub.Waiters.Signal(channel, null); // waiting long polls read their streams again
            foreach (var sub in Hub.Subscribers(channel))
            {
                sub.Client.OnStreamInterrupted(sub);
            }
        }
    }

    public void Dispose()
    {
        _heartbeat.Dispose();
        Cluster.Dispose();
    }
}
