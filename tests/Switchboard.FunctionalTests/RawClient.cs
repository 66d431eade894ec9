using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;

namespace Switchboard.FunctionalTests;

/// <summary>
/// A bare WebSocket client speaking the JSON protocol by hand: what a hostile or minimal client
/// would send, and every message the server answers, split at newlines.
/// </summary>
public sealed class RawClient : IAsyncDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private readonly ClientWebSocket _socket = new();
    private readonly Channel<JsonElement> _messages = Channel.CreateUnbounded<JsonElement>();
    private readonly TaskCompletionSource<(WebSocketCloseStatus? Status, string? Reason)> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private uint _nextId;
    private Task? _reader;

    /// <summary>Answer server pings (<c>{}</c>) at once, as a live client does, instead of queueing them.</summary>
    public bool AutoPong { get; set; }

    private int _pings;
    private readonly List<(int Count, TaskCompletionSource Done)> _pingWaiters = [];

    /// <summary>Completes when at least <paramref name="count"/> pings have arrived.</summary>
    public Task WaitForPingsAsync(int count)
    {
        lock (_pingWaiters)
        {
            if (_pings >= count)
            {
                return Task.CompletedTask;
            }
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _pingWaiters.Add((count, done));
            return done.Task.WaitAsync(Timeout);
        }
    }

    private void CountPing()
    {
        lock (_pingWaiters)
        {
            _pings++;
            foreach (var waiter in _pingWaiters.Where(w => w.Count <= _pings).ToList())
            {
                waiter.Done.TrySetResult();
                _pingWaiters.Remove(waiter);
            }
        }
    }

    public static async Task<RawClient> OpenAsync(Uri uri)
    {
        var client = new RawClient();
        await client._socket.ConnectAsync(uri, CancellationToken.None);
        client._reader = client.ReadLoopAsync();
        return client;
    }

    private async Task ReadLoopAsync()
    {
        var buffer = new byte[1 << 20];
        try
        {
            while (true)
            {
                var length = 0;
                WebSocketReceiveResult result;
                do
                {
                    result = await _socket.ReceiveAsync(buffer.AsMemory(length).ToArraySegment(), CancellationToken.None);
                    length += result.Count;
                }
                while (!result.EndOfMessage);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    _closed.TrySetResult((result.CloseStatus, result.CloseStatusDescription));
                    if (_socket.State == WebSocketState.CloseReceived)
                    {
                        await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
                    }
                    break;
                }
                foreach (var line in Encoding.UTF8.GetString(buffer, 0, length).Split('\n', StringSplitOptions.RemoveEmptyEntries))
                {
                    if (line == "{}")
                    {
                        if (AutoPong)
                        {
                            await SendRawAsync("{}");
                            CountPing(); // after the pong is sent, so a command sent next arrives after it
                            continue;
                        }
                        CountPing();
                    }
                    _messages.Writer.TryWrite(JsonDocument.Parse(line, new JsonDocumentOptions { MaxDepth = 256 }).RootElement.Clone());
                }
            }
        }
        catch (WebSocketException)
        {
            _closed.TrySetResult((null, null));
        }
        _messages.Writer.TryComplete();
    }

    public uint NextId() => ++_nextId;

    public Task SendRawAsync(string frame)
        => _socket.SendAsync(Encoding.UTF8.GetBytes(frame), WebSocketMessageType.Text, true, CancellationToken.None);

    /// <summary>Sends raw bytes as one message, or as a fragment when <paramref name="endOfMessage"/> is false.</summary>
    public Task SendBytesAsync(byte[] bytes, WebSocketMessageType type = WebSocketMessageType.Text, bool endOfMessage = true)
        => _socket.SendAsync(bytes, type, endOfMessage, CancellationToken.None);

    /// <summary>Every message received so far and not yet taken, without waiting.</summary>
    public List<JsonElement> Drain()
    {
        var all = new List<JsonElement>(_pending);
        _pending.Clear();
        while (_messages.Reader.TryRead(out var message))
        {
            all.Add(message);
        }
        return all;
    }

    /// <summary>The close code if the server has closed the connection, without waiting.</summary>
    public int? CloseCode => _closed.Task.IsCompletedSuccessfully ? (int?)_closed.Task.Result.Status : null;

    public bool IsClosed => _closed.Task.IsCompleted || _socket.State is not WebSocketState.Open;

    /// <summary>Waits for the server's close frame, up to <paramref name="timeout"/>.</summary>
    public async Task<int?> ClosedAsync(TimeSpan timeout)
    {
        var (status, _) = await _closed.Task.WaitAsync(timeout);
        return (int?)status;
    }

    public Task SendBinaryAsync(byte[] frame)
        => _socket.SendAsync(frame, WebSocketMessageType.Binary, true, CancellationToken.None);

    /// <summary>Sends <c>{"id": n, body}</c> and returns the reply with that id (pushes before it are kept).</summary>
    public async Task<JsonElement> CommandAsync(string body)
    {
        var id = NextId();
        await SendRawAsync($"{{\"id\":{id},{body}}}");
        return await ReplyAsync(id);
    }

    private readonly List<JsonElement> _pending = [];

    /// <summary>The reply with this id; other messages received meanwhile stay queued for <see cref="NextAsync"/>.</summary>
    public async Task<JsonElement> ReplyAsync(uint id)
    {
        var index = _pending.FindIndex(m => IdOf(m) == id);
        if (index >= 0)
        {
            var found = _pending[index];
            _pending.RemoveAt(index);
            return found;
        }
        using var cts = new CancellationTokenSource(Timeout);
        while (true)
        {
            var message = await _messages.Reader.ReadAsync(cts.Token);
            if (IdOf(message) == id)
            {
                return message;
            }
            _pending.Add(message);
        }
    }

    /// <summary>The next message in arrival order.</summary>
    public async Task<JsonElement> NextAsync()
    {
        if (_pending.Count > 0)
        {
            var first = _pending[0];
            _pending.RemoveAt(0);
            return first;
        }
        using var cts = new CancellationTokenSource(Timeout);
        return await _messages.Reader.ReadAsync(cts.Token);
    }

    /// <summary>The next push (a message with <c>push</c>), skipping nothing else silently: replies fail the test.</summary>
    public async Task<JsonElement> NextPushAsync()
    {
        var message = await NextAsync();
        Assert.True(message.TryGetProperty("push", out var push), $"expected a push, got {message}");
        return push;
    }

    /// <summary>Waits for the server's close frame and returns its code.</summary>
    public async Task<int?> ClosedAsync()
    {
        var (status, _) = await _closed.Task.WaitAsync(Timeout);
        return (int?)status;
    }

    public bool HasPendingMessages => _pending.Count > 0 || _messages.Reader.Count > 0;

    private static uint IdOf(JsonElement message)
        => message.ValueKind == JsonValueKind.Object && message.TryGetProperty("id", out var id) ? id.GetUInt32() : 0;

    public async ValueTask DisposeAsync()
    {
        if (_socket.State == WebSocketState.Open)
        {
            try
            {
                await _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "", new CancellationTokenSource(Timeout).Token);
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException)
            {
                // The server may already have closed.
            }
        }
        if (_reader is not null)
        {
            await _reader.WaitAsync(Timeout).ConfigureAwait(false);
        }
        _socket.Dispose();
    }
}

internal static class MemoryExtensions2
{
    public static ArraySegment<byte> ToArraySegment(this Memory<byte> memory)
        => System.Runtime.InteropServices.MemoryMarshal.TryGetArray<byte>(memory, out var segment) ? segment : throw new InvalidOperationException();
}
