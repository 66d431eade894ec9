using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;

namespace Switchboard.Bench;

/// <summary>
/// One lightweight WebSocket subscriber speaking a server's own wire protocol by hand:
/// connect, join the channel, answer the protocol's keep-alives, and record every publication.
/// </summary>
internal abstract class Subscriber(int id, RunState run)
{
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private ClientWebSocket? _ws;
    private TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource? _resume;
    private byte[] _seen = [];
    private long _delivered;
    private long _duplicates;
    private volatile bool _alive;
    private int _disconnects;

    public int Id { get; } = id;

    public bool Alive => _alive;

    public long Delivered => Interlocked.Read(ref _delivered);

    public long Duplicates => Interlocked.Read(ref _duplicates);

    public int Disconnects => Volatile.Read(ref _disconnects);

    public string? LastCloseReason { get; private set; }

    /// <summary>The close code the server sent, when the connection ended with a close frame.</summary>
    public int? LastCloseCode { get; private set; }

    /// <summary>Whether this subscriber's latencies go into the step's histogram (false: counted, not measured).</summary>
    public bool Measured { get; set; } = true;

    /// <summary>
    /// Publications with sequence number <c>seq</c> where <c>seq % SeqStride == SeqOffset</c> are
    /// this subscriber's (publications go round-robin over the rooms); 1 and 0 for one room.
    /// </summary>
    public int SeqStride { get; set; } = 1;

    /// <inheritdoc cref="SeqStride"/>
    public int SeqOffset { get; set; }

    /// <summary>The HTTP stack the WebSocket handshake goes through (source address, socket buffers); null = the default.</summary>
    public HttpMessageInvoker? Invoker { get; set; }

    /// <summary>Whether the sequence number was delivered in the current step.</summary>
    public bool Seen(int seq)
    {
        if (seq % SeqStride != SeqOffset)
        {
            return false;
        }
        var local = seq / SeqStride;
        return (uint)local < (uint)_seen.Length && _seen[local] != 0;
    }

    /// <summary>Resets the per-step bookkeeping (between steps, while nothing of the new step flows).</summary>
    public void PrepareStep(int total)
    {
        var capacity = (total + SeqStride - 1) / SeqStride;
        if (_seen.Length < capacity)
        {
            _seen = new byte[capacity];
        }
        else
        {
            Array.Clear(_seen);
        }
        Interlocked.Exchange(ref _delivered, 0);
        Interlocked.Exchange(ref _duplicates, 0);
    }

    /// <summary>Stops calling ReceiveAsync (after the message being read, if any): the socket backs up.</summary>
    public void PauseReading() =>
        Interlocked.CompareExchange(ref _resume, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), null);

    /// <summary>Reads again after <see cref="PauseReading"/>.</summary>
    public void ResumeReading() => Interlocked.Exchange(ref _resume, null)?.TrySetResult();

    protected abstract string Path { get; }

    /// <summary>Connects and joins (a WebSocket here; the HTTP transports override it). Called again to reconnect.</summary>
    public virtual async Task ConnectAsync(Uri baseUri, TimeSpan timeout, CancellationToken ct)
    {
        _ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var ws = new ClientWebSocket();
        ws.Options.KeepAliveInterval = TimeSpan.Zero; // each protocol has its own keep-alive
        ConfigureWebSocket(ws);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        try
        {
            await ws.ConnectAsync(new Uri(baseUri, Path), Invoker, cts.Token);
            _ws = ws;
            LastCloseCode = null;
            LastCloseReason = null;
            _alive = true;
            _ = Task.Run(() => ReceiveLoopAsync(ws), CancellationToken.None);
            await OnOpenAsync();
            await _ready.Task.WaitAsync(cts.Token);
        }
        catch
        {
            _alive = false;
            ws.Abort();
            ws.Dispose();
            throw;
        }
    }

    public virtual async Task CloseAsync()
    {
        var ws = _ws;
        _alive = false;
        ResumeReading();
        if (ws is null)
        {
            return;
        }
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await ws.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bench done", cts.Token);
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
        ws.Abort();
        ws.Dispose();
    }

    /// <summary>Sets WebSocket options before the handshake (a subprotocol).</summary>
    protected virtual void ConfigureWebSocket(ClientWebSocket ws)
    {
    }

    /// <summary>
    /// For subclasses with a connection of their own: a new attempt begins (the join is awaited
    /// with <see cref="WaitJoinedAsync"/>).
    /// </summary>
    protected void BeginAttempt()
    {
        _ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        LastCloseCode = null;
        LastCloseReason = null;
    }

    /// <summary>For subclasses with a connection of their own: the connection is up (joined or not yet).</summary>
    protected void MarkOpen() => _alive = true;

    /// <summary>Waits until <see cref="MarkReady"/> or <see cref="Fail"/> of the current attempt.</summary>
    protected Task WaitJoinedAsync(CancellationToken ct) => _ready.Task.WaitAsync(ct);

    /// <summary>For subclasses with a connection of their own: it ended (counted as a disconnect when it was up).</summary>
    protected void MarkClosed(string reason, int? code = null)
    {
        LastCloseReason ??= reason;
        LastCloseCode ??= code;
        if (_alive)
        {
            Interlocked.Increment(ref _disconnects);
        }
        _alive = false;
        Fail("connection closed before joining: " + LastCloseReason);
    }

    /// <summary>For subclasses: stop as if closed by the client (not a disconnect).</summary>
    protected void MarkStopped() => _alive = false;

    /// <summary>Application-level keep-alive for protocols where the client must speak first.</summary>
    public virtual Task KeepAliveAsync() => Task.CompletedTask;

    protected abstract Task OnOpenAsync();

    /// <summary>Handles one complete WebSocket message (text, or binary for Protobuf).</summary>
    protected abstract ValueTask OnMessageAsync(ReadOnlyMemory<byte> message);

    protected void MarkReady() => _ready.TrySetResult();

    protected void Fail(string why) => _ready.TrySetException(new InvalidOperationException(why));

    protected Task SendAsync(string text) => SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text);

    protected async Task SendAsync(ReadOnlyMemory<byte> message, WebSocketMessageType type)
    {
        var ws = _ws;
        if (ws is null || !_alive)
        {
            return;
        }
        await _sendLock.WaitAsync();
        try
        {
            await ws.SendAsync(message, type, true, CancellationToken.None);
        }
        catch (Exception e) when (e is WebSocketException or ObjectDisposedException or InvalidOperationException)
        {
        }
        finally
        {
            _sendLock.Release();
        }
    }

    /// <summary>Records a message that carries a publication payload.</summary>
    protected void OnPublication(ReadOnlySpan<byte> message)
    {
        var now = Stopwatch.GetTimestamp();
        if (!Payload.TryParse(message, out var step, out var seq, out var ts))
        {
            return;
        }
        var state = run.Current;
        if (state is null || state.Step != step)
        {
            run.CountOutOfStep();
            return;
        }
        var seen = _seen;
        var local = seq / SeqStride;
        if (seq % SeqStride != SeqOffset || (uint)local >= (uint)seen.Length)
        {
            state.CountForeign();
            return;
        }
        if (seen[local] != 0)
        {
            Interlocked.Increment(ref _duplicates);
            return;
        }
        seen[local] = 1;
        Interlocked.Increment(ref _delivered);
        if (Measured)
        {
            state.Record(Id, now - ts);
        }
    }

    private async Task ReceiveLoopAsync(ClientWebSocket ws)
    {
        var buffer = new byte[16 * 1024];
        var count = 0;
        try
        {
            while (true)
            {
                if (Volatile.Read(ref _resume) is { } paused)
                {
                    await paused.Task;
                }
                if (count == buffer.Length)
                {
                    Array.Resize(ref buffer, buffer.Length * 2);
                }
                var result = await ws.ReceiveAsync(buffer.AsMemory(count), CancellationToken.None);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    LastCloseCode = (int?)ws.CloseStatus;
                    LastCloseReason = $"{(int?)ws.CloseStatus} {ws.CloseStatusDescription}";
                    break;
                }
                count += result.Count;
                if (!result.EndOfMessage)
                {
                    continue;
                }
                await OnMessageAsync(buffer.AsMemory(0, count));
                count = 0;
            }
        }
        catch (Exception e) when (e is WebSocketException or ObjectDisposedException or OperationCanceledException)
        {
            LastCloseReason ??= e.Message;
        }
        if (_alive)
        {
            Interlocked.Increment(ref _disconnects);
        }
        _alive = false;
        Fail("connection closed before joining: " + LastCloseReason);
    }
}

/// <summary>Switchboard / Centrifugo client protocol v2, JSON: connect + subscribe, pong every ping.</summary>
internal sealed class SwitchboardSubscriber(int id, RunState run, string channel) : Subscriber(id, run)
{
    protected override string Path => "/connection/websocket";

    protected override Task OnOpenAsync() =>
        // The JS SDK sends connect and its subscribes in one frame, the server handles them in order.
        SendAsync($"{{\"id\":1,\"connect\":{{\"name\":\"bench\"}}}}\n{{\"id\":2,\"subscribe\":{{\"channel\":\"{channel}\"}}}}");

    protected override async ValueTask OnMessageAsync(ReadOnlyMemory<byte> message)
    {
        var rest = message;
        while (!rest.IsEmpty)
        {
            var nl = rest.Span.IndexOf((byte)'\n');
            var line = nl < 0 ? rest : rest[..nl];
            rest = nl < 0 ? ReadOnlyMemory<byte>.Empty : rest[(nl + 1)..];
            var span = line.Span;
            if (span.IsEmpty)
            {
                continue;
            }
            if (span.SequenceEqual("{}"u8))
            {
                await SendAsync("{}"); // ping → pong
            }
            else if (span.StartsWith("{\"push\""u8))
            {
                if (span.IndexOf("\"pub\""u8) >= 0)
                {
                    OnPublication(span);
                }
            }
            else if (span.IndexOf("\"error\""u8) >= 0)
            {
                Fail("error reply: " + Encoding.UTF8.GetString(span));
            }
            else if (span.StartsWith("{\"id\":2,"u8))
            {
                MarkReady();
            }
        }
    }
}

/// <summary>ASP.NET Core SignalR JSON hub protocol over a WebSocket to the hub (negotiation skipped).</summary>
internal sealed class SignalRSubscriber(int id, RunState run, string group) : Subscriber(id, run)
{
    private const char RecordSeparator = '\u001e';

    protected override string Path => "/hub";

    protected override Task OnOpenAsync() => SendAsync("{\"protocol\":\"json\",\"version\":1}" + RecordSeparator);

    // The server drops a client it has not heard from for ClientTimeoutInterval (30 s).
    public override Task KeepAliveAsync() => SendAsync("{\"type\":6}" + RecordSeparator);

    protected override async ValueTask OnMessageAsync(ReadOnlyMemory<byte> message)
    {
        var rest = message;
        while (!rest.IsEmpty)
        {
            var sep = rest.Span.IndexOf((byte)RecordSeparator);
            var record = sep < 0 ? rest : rest[..sep];
            rest = sep < 0 ? ReadOnlyMemory<byte>.Empty : rest[(sep + 1)..];
            var span = record.Span;
            if (span.IsEmpty)
            {
                continue;
            }
            if (span.SequenceEqual("{}"u8))
            {
                // Handshake accepted: join the group (a hub invocation with an id gets a completion).
                await SendAsync($"{{\"type\":1,\"invocationId\":\"1\",\"target\":\"Join\",\"arguments\":[\"{group}\"]}}{RecordSeparator}");
            }
            else if (span.StartsWith("{\"type\":1,"u8))
            {
                OnPublication(span);
            }
            else if (span.StartsWith("{\"type\":3,"u8))
            {
                if (span.IndexOf("\"error\""u8) >= 0)
                {
                    Fail("join failed: " + Encoding.UTF8.GetString(span));
                }
                else
                {
                    MarkReady();
                }
            }
            else if (span.StartsWith("{\"error\""u8))
            {
                Fail("handshake failed: " + Encoding.UTF8.GetString(span));
            }
        }
    }
}

/// <summary>Socket.IO 4 (Engine.IO v4) over a WebSocket only: open, connect to "/", join a room by event.</summary>
internal sealed class SocketIoSubscriber(int id, RunState run, string room) : Subscriber(id, run)
{
    protected override string Path => "/socket.io/?EIO=4&transport=websocket";

    protected override Task OnOpenAsync() => Task.CompletedTask; // the server speaks first ("0{…}")

    protected override async ValueTask OnMessageAsync(ReadOnlyMemory<byte> message)
    {
        var span = message.Span;
        if (span.IsEmpty)
        {
            return;
        }
        switch (span[0])
        {
            case (byte)'0': // Engine.IO open → Socket.IO CONNECT to the main namespace
                await SendAsync("40");
                break;
            case (byte)'2': // Engine.IO ping → pong
                await SendAsync("3");
                break;
            case (byte)'4' when span.Length > 1:
                switch (span[1])
                {
                    case (byte)'0': // CONNECT acknowledged
                        await SendAsync($"42[\"join\",\"{room}\"]");
                        break;
                    case (byte)'2': // EVENT
                        if (span.StartsWith("42[\"pub\","u8))
                        {
                            OnPublication(span);
                        }
                        else if (span.StartsWith("42[\"joined\""u8))
                        {
                            MarkReady();
                        }
                        break;
                    case (byte)'4': // CONNECT_ERROR
                        Fail("connect error: " + Encoding.UTF8.GetString(span));
                        break;
                    default:
                        break;
                }
                break;
            default:
                break;
        }
    }
}
