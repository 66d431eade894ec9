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
    private readonly Handlers _handlers;
    private readonly ITimer _heartbeat;

    public Node(
        IOptions<SwitchboardOptions> options,
        ChannelPolicy policy,
        TokenValidator tokens,
        IBroker broker,
        IPresenceManager presence,
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
        Hub = new Hub(broker);
        StartedAt = time.GetUtcNow();
        _handlers = handlers;
        broker.RegisterEventHandler(this);
        metrics.Observe(this);
        _heartbeat = time.CreateTimer(_ => Sweep(), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
    }

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

    public string Version { get; } = typeof(Node).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    /// <summary>Every open session, connected or not.</summary>
    public int SessionCount => _sessions.Count;

    public IRpcHandler? FindRpcHandler(string method) => _handlers.Rpc(method);

    /// <summary>Starts a session for a new transport connection.</summary>
    public Client CreateClient(ITransport transport)
    {
        var client = new Client(this, transport);
        _sessions[client] = 0;
        return client;
    }

    internal void RemoveSession(Client client)
    {
        _sessions.TryRemove(client, out _);
        Hub.RemoveClient(client);
    }

    /// <summary>One pass of the heartbeat over every session.</summary>
    internal void Sweep()
    {
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

    /// <summary>Closes every session with a code (shutdown).</summary>
    public async Task DisconnectAllAsync(Disconnect disconnect)
    {
        var clients = _sessions.Keys.ToList();
        foreach (var client in clients)
        {
            client.Disconnect(disconnect);
        }
        await Task.WhenAll(clients.Select(c => c.Writer)).WaitAsync(TimeSpan.FromSeconds(5), Time).ConfigureAwait(false);
    }

    public void OnPublication(string channel, Publication publication) => Hub.BroadcastPublication(channel, publication);

    public void OnJoin(string channel, ClientInfo info) => Hub.BroadcastJoinLeave(channel, new Push { Channel = channel, Join = new JoinPush { Info = info } });

    public void OnLeave(string channel, ClientInfo info) => Hub.BroadcastJoinLeave(channel, new Push { Channel = channel, Leave = new LeavePush { Info = info } });

    public void Dispose() => _heartbeat.Dispose();
}
