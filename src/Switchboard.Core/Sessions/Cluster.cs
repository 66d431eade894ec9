using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Logging;
using Switchboard.Api;
using Switchboard.Engine;
using Switchboard.Protocol;

namespace Switchboard.Sessions;

/// <summary>
/// This node's view of the cluster: the registry of live nodes (each node announces itself every
/// <c>NodeHeartbeatInterval</c>; one not heard of for <c>NodeTtl</c> is dropped), and the
/// control messages that carry server API commands to whichever node holds the user, and the
/// emulation requests (commands of an HTTP-streaming or SSE session) that another node received
/// for a session held here. With the memory engine the cluster is this node alone.
/// </summary>
internal sealed partial class Cluster : IDisposable
{
    private readonly Node _node;
    private readonly IClusterControl _control;
    private readonly Dictionary<string, (NodeInfo Info, DateTimeOffset ExpireAt)> _nodes = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private readonly ITimer? _announcer;
    private readonly Task _listening = Task.CompletedTask;
    private Action<ControlMessage>? _commandHandler;

    public Cluster(Node node, IClusterControl control)
    {
        _node = node;
        _control = control;
        control.RegisterHandler(OnMessage);
        if (control.IsDistributed)
        {
            // Others may forward emulation requests here once they know this node: it announces
            // itself only when it listens on its own channel (at once then, and every interval).
            _listening = control.ListenAsNodeAsync(node.Uid, OnNodeMessage);
            _listening.ContinueWith(_ => AnnounceAsync(leaving: false), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
            var interval = node.Options.Redis.NodeHeartbeatInterval;
            _announcer = node.Time.CreateTimer(_ => _ = AnnounceAsync(leaving: false), null, TimeSpan.Zero, interval);
        }
    }

    /// <summary>True when other nodes may hold users and channels.</summary>
    public bool IsDistributed => _control.IsDistributed;

    public IClusterControl Control => _control;

    /// <summary>Sets who applies server API commands that arrive from other nodes.</summary>
    public void OnCommand(Action<ControlMessage> handler) => _commandHandler = handler;

    /// <summary>This node and every other node heard of within its TTL.</summary>
    public List<NodeInfo> Nodes()
    {
        var now = _node.Time.GetUtcNow();
        var result = new List<NodeInfo> { _node.Info() };
        lock (_lock)
        {
            foreach (var (uid, entry) in _nodes.ToList())
            {
                if (entry.ExpireAt <= now)
                {
                    _nodes.Remove(uid);
                }
                else
                {
                    result.Add(entry.Info);
                }
            }
        }
        return result;
    }

    /// <summary>True once this node has listened for two node TTLs: every live node has announced itself.</summary>
    public bool RegistryComplete => _node.Time.GetUtcNow() - _node.StartedAt >= 2 * _node.Options.Redis.NodeTtl;

    /// <summary>The uids of the live nodes, this one included.</summary>
    public List<string> LiveNodeUids() => [.. Nodes().Select(n => n.Uid)];

    /// <summary>Sends a server API command to every other node (no-op on a single node).</summary>
    public async Task SendCommandAsync(ControlMessage message, CancellationToken ct)
    {
        if (!_control.IsDistributed)
        {
            return;
        }
        message.From = _node.Uid;
        await _control.BroadcastAsync(JsonSerializer.SerializeToUtf8Bytes(message, ControlJsonContext.Default.ControlMessage), ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Asks every other live node for its channels and their local subscriber counts; returns
    /// the answers that came within <paramref name="timeout"/> (a node that died meanwhile is
    /// simply missing).
    /// </summary>
    public async Task<List<Dictionary<string, int>>> SurveyChannelsAsync(TimeSpan timeout, CancellationToken ct)
    {
        var others = Nodes().Count - 1;
        if (!_control.IsDistributed || others == 0)
        {
            return [];
        }
        var survey = new Survey(others);
        var id = Guid.NewGuid().ToString("N");
        _surveys[id] = survey;
        try
        {
            var message = new ControlMessage { From = _node.Uid, SurveyChannels = id };
            await _control.BroadcastAsync(JsonSerializer.SerializeToUtf8Bytes(message, ControlJsonContext.Default.ControlMessage), ct).ConfigureAwait(false);
            try
            {
                await survey.Complete.WaitAsync(timeout, _node.Time, ct).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // Answer with what came.
            }
            return survey.Answers();
        }
        finally
        {
            _surveys.TryRemove(id, out _);
        }
    }

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Survey> _surveys = new(StringComparer.Ordinal);

    private async Task AnswerSurveyAsync(string id)
    {
        try
        {
            var message = new ControlMessage { From = _node.Uid, SurveyReplyTo = id, Channels = _node.Hub.Channels() };
            await _control.BroadcastAsync(JsonSerializer.SerializeToUtf8Bytes(message, ControlJsonContext.Default.ControlMessage), CancellationToken.None).ConfigureAwait(false);
        }
        catch (ProtocolException e)
        {
            Log.AnnounceFailed(_node.Logger, e.Message);
        }
    }

    private sealed class Survey(int expected)
    {
        private readonly List<Dictionary<string, int>> _answers = [];
        private readonly TaskCompletionSource _complete = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Complete => _complete.Task;

        public void Add(Dictionary<string, int> answer)
        {
            lock (_answers)
            {
                _answers.Add(answer);
                if (_answers.Count >= expected)
                {
                    _complete.TrySetResult();
                }
            }
        }

        public List<Dictionary<string, int>> Answers()
        {
            lock (_answers)
            {
                return [.. _answers];
            }
        }
    }

    /// <summary>Tells the other nodes this one is leaving, so they drop it at once.</summary>
    public Task LeaveAsync() => _control.IsDistributed ? AnnounceAsync(leaving: true) : Task.CompletedTask;

    private async Task AnnounceAsync(bool leaving)
    {
        if (!leaving && !_listening.IsCompletedSuccessfully)
        {
            return;
        }
        try
        {
            var message = new ControlMessage { From = _node.Uid, Node = _node.Info(), Leaving = leaving };
            await _control.BroadcastAsync(JsonSerializer.SerializeToUtf8Bytes(message, ControlJsonContext.Default.ControlMessage), CancellationToken.None).ConfigureAwait(false);
        }
        catch (ProtocolException e)
        {
            Log.AnnounceFailed(_node.Logger, e.Message);
        }
    }

    private void OnMessage(ReadOnlyMemory<byte> bytes)
    {
        var message = JsonSerializer.Deserialize(bytes.Span, ControlJsonContext.Default.ControlMessage);
        if (message is null || message.From == _node.Uid)
        {
            return;
        }
        if (message.Node is { } info)
        {
            lock (_lock)
            {
                if (message.Leaving)
                {
                    _nodes.Remove(message.From);
                }
                else
                {
                    _nodes[message.From] = (info, _node.Time.GetUtcNow() + _node.Options.Redis.NodeTtl);
                }
            }
            return;
        }
        if (message.SurveyChannels is { } surveyId)
        {
            _ = AnswerSurveyAsync(surveyId);
            return;
        }
        if (message.SurveyReplyTo is { } replyTo)
        {
            if (_surveys.TryGetValue(replyTo, out var survey))
            {
                survey.Add(message.Channels ?? []);
            }
            return;
        }
        _commandHandler?.Invoke(message);
    }

    /// <summary>
    /// Sends an emulation request to the node holding its session. False when that node is not
    /// a live node of this cluster (or there is no cluster); throws <see cref="ProtocolException"/>
    /// when the engine cannot be reached.
    /// </summary>
    public async Task<bool> ForwardEmulationAsync(string nodeUid, string session, ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        if (!_control.IsDistributed || nodeUid == _node.Uid || !Nodes().Exists(n => n.Uid == nodeUid))
        {
            return false;
        }
        var message = new ControlMessage
        {
            From = _node.Uid,
            Emulation = new EmulationMessage { Session = session, Data = System.Text.Encoding.UTF8.GetString(data.Span) },
        };
        await _control.SendToNodeAsync(nodeUid, JsonSerializer.SerializeToUtf8Bytes(message, ControlJsonContext.Default.ControlMessage), ct).ConfigureAwait(false);
        return true;
    }

    // A message for this node alone: an emulation request forwarded by the node that received it.
    private void OnNodeMessage(ReadOnlyMemory<byte> bytes)
    {
        var message = JsonSerializer.Deserialize(bytes.Span, ControlJsonContext.Default.ControlMessage);
        if (message?.Emulation is not { } emulation)
        {
            return;
        }
        if (_node.FindEmulationSession(emulation.Session) is not { } client)
        {
            // The session ended meanwhile: its client reconnects and gets a new one.
            Log.EmulationSessionGone(_node.Logger, emulation.Session[..Math.Min(8, emulation.Session.Length)]);
            return;
        }
        // Messages are handled in arrival order: this call takes the session's frame gate (FIFO)
        // before the next message is dispatched.
        _ = client.HandleFrameInOrderAsync(System.Text.Encoding.UTF8.GetBytes(emulation.Data), client.Closed);
    }

    public void Dispose() => _announcer?.Dispose();

    private static partial class Log
    {
        [LoggerMessage(EventId = 60, Level = LogLevel.Warning, Message = "Announcing this node to the cluster failed: {Error}")]
        public static partial void AnnounceFailed(ILogger logger, string error);

        [LoggerMessage(EventId = 61, Level = LogLevel.Debug, Message = "An emulation request came for session {Session}…, which is no longer here")]
        public static partial void EmulationSessionGone(ILogger logger, string session);
    }
}

/// <summary>A message between nodes: a node's heartbeat, or a server API command to apply locally.</summary>
internal sealed class ControlMessage
{
    /// <summary>The uid of the sending node.</summary>
    public string From { get; set; } = "";
    public NodeInfo? Node { get; set; }
    public bool Leaving { get; set; }
    public DisconnectApiRequest? Disconnect { get; set; }
    public UnsubscribeApiRequest? Unsubscribe { get; set; }
    public SubscribeApiRequest? Subscribe { get; set; }
    public RefreshApiRequest? Refresh { get; set; }
    /// <summary>A survey id: every node answers with its channels.</summary>
    public string? SurveyChannels { get; set; }
    /// <summary>The survey this message answers.</summary>
    public string? SurveyReplyTo { get; set; }
    /// <summary>A node's channels and local subscriber counts (a survey answer).</summary>
    public Dictionary<string, int>? Channels { get; set; }
    /// <summary>Commands for an emulation session on the receiving node (sent to that node alone).</summary>
    public EmulationMessage? Emulation { get; set; }
}

/// <summary>An emulation request on its way to the node holding the session.</summary>
internal sealed class EmulationMessage
{
    public string Session { get; set; } = "";
    /// <summary>The commands, in the JSON protocol.</summary>
    public string Data { get; set; } = "";
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingDefault)]
[JsonSerializable(typeof(ControlMessage))]
internal sealed partial class ControlJsonContext : JsonSerializerContext;
