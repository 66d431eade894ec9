using System.Buffers;
using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text.Json;
using System.Threading.Channels;
using Switchboard.Client.Protocol;

namespace Switchboard.Client;

/// <summary>
/// One WebSocket connection: a writer loop that joins whatever commands are queued into one frame,
/// and a reader loop that splits frames at newlines and hands each message, in order and
/// synchronously, to the client. Reply callbacks run on the reader loop too, so a subscribe result
/// is fully applied before the next message is looked at.
/// </summary>
internal sealed class Transport : IAsyncDisposable
{
    private static readonly byte[] PingBytes = "{}"u8.ToArray();

    private readonly ClientWebSocket _socket = new();
    private readonly ITransportHandler _handler;
    private readonly Channel<byte[]> _outbound = Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions { SingleReader = true });
    private readonly ConcurrentDictionary<uint, PendingReply> _pending = new();
    private readonly TaskCompletionSource<(int Code, string Reason, bool Reconnect)> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stop = new();
    private Task _reader = Task.CompletedTask;
    private Task _writer = Task.CompletedTask;

    private Transport(ITransportHandler handler) => _handler = handler;

    /// <summary>Completes with the close code, the reason and whether to reconnect once the connection is gone.</summary>
    public Task<(int Code, string Reason, bool Reconnect)> Closed => _closed.Task;

    /// <summary>Opens the WebSocket and starts the loops.</summary>
    public static async Task<Transport> OpenAsync(Uri uri, ITransportHandler handler, CancellationToken cancellationToken)
    {
        var transport = new Transport(handler);
        try
        {
            await transport._socket.ConnectAsync(uri, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            transport._socket.Dispose();
            transport._stop.Dispose();
            throw;
        }
        transport._reader = Task.Run(transport.ReadLoopAsync, CancellationToken.None);
        transport._writer = Task.Run(transport.WriteLoopAsync, CancellationToken.None);
        return transport;
    }

    /// <summary>
    /// Queues a command and waits for its reply. <paramref name="onReply"/>, when given, runs on the
    /// reader loop before the next message is read.
    /// </summary>
    public async Task<Reply> RequestAsync(Command command, Action<Reply>? onReply, CancellationToken cancellationToken)
    {
        var pending = new PendingReply(onReply);
        _pending[command.Id] = pending;
        try
        {
            if (!_outbound.Writer.TryWrite(JsonSerializer.SerializeToUtf8Bytes(command, WireJsonContext.Default.Command)))
            {
                throw new SwitchboardException(ErrorCodes.ConnectionClosed, "connection closed", temporary: true);
            }
            if (_closed.Task.IsCompleted)
            {
                // Closed before the command was registered: nobody else will fail it.
                pending.Completion.TrySetException(new SwitchboardException(ErrorCodes.ConnectionClosed, "connection closed", temporary: true));
            }
            return await pending.Completion.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _pending.TryRemove(command.Id, out _);
        }
    }

    /// <summary>Queues a message that has no reply (send, pong).</summary>
    public bool Post(Command? command) => _outbound.Writer.TryWrite(command is null ? PingBytes : JsonSerializer.SerializeToUtf8Bytes(command, WireJsonContext.Default.Command));

    /// <summary>Ends the connection from this side with a code the client reports (the close frame is best effort).</summary>
    public void Abort(int code, string reason, bool reconnect)
    {
        if (_closed.TrySetResult((code, reason, reconnect)))
        {
            FailPending();
            _outbound.Writer.TryComplete();
            _socket.Abort();
        }
    }

    private async Task ReadLoopAsync()
    {
        var buffer = new ArrayBufferWriter<byte>(4096);
        (int Code, string Reason) result = (DisconnectCodes.TransportClosed, "transport closed");
        try
        {
            while (true)
            {
                buffer.ResetWrittenCount();
                ValueWebSocketReceiveResult received;
                do
                {
                    received = await _socket.ReceiveAsync(buffer.GetMemory(4096), _stop.Token).ConfigureAwait(false);
                    buffer.Advance(received.Count);
                }
                while (!received.EndOfMessage);
                if (received.MessageType == WebSocketMessageType.Close)
                {
                    result = ((int?)_socket.CloseStatus ?? DisconnectCodes.TransportClosed, _socket.CloseStatusDescription ?? "");
                    break;
                }
                _handler.OnFrame();
                HandleFrame(buffer.WrittenSpan);
            }
        }
        catch (JsonException)
        {
            result = (DisconnectCodes.TransportClosed, "malformed message from server");
        }
        catch (Exception)
        {
            // The connection is gone (or unusable); the result says so, and the client reconnects.
        }
        if (_closed.TrySetResult((result.Code, result.Reason, DisconnectCodes.ShouldReconnect(result.Code))))
        {
            FailPending();
            _outbound.Writer.TryComplete();
            _socket.Abort();
        }
    }

    private void HandleFrame(ReadOnlySpan<byte> frame)
    {
        while (!frame.IsEmpty && !_closed.Task.IsCompleted)
        {
            var newline = frame.IndexOf((byte)'\n');
            var line = (newline < 0 ? frame : frame[..newline]).Trim(" \t\r"u8);
            frame = newline < 0 ? [] : frame[(newline + 1)..];
            if (line.IsEmpty)
            {
                continue;
            }
            var reply = JsonSerializer.Deserialize(line, WireJsonContext.Default.Reply) ?? throw new JsonException("null message");
            if (reply.Id != 0)
            {
                if (_pending.TryRemove(reply.Id, out var pending))
                {
                    pending.OnReply?.Invoke(reply);
                    pending.Completion.TrySetResult(reply);
                }
            }
            else if (reply.Push is not null)
            {
                _handler.OnPush(this, reply.Push);
            }
            else
            {
                _handler.OnPing(this);
            }
        }
    }

    private async Task WriteLoopAsync()
    {
        var frame = new ArrayBufferWriter<byte>(4096);
        var reader = _outbound.Reader;
        try
        {
            while (await reader.WaitToReadAsync(_stop.Token).ConfigureAwait(false))
            {
                frame.ResetWrittenCount();
                var messages = 0;
                // Everything queued goes out in one frame, one message a line.
                while (frame.WrittenCount < 1 << 20 && reader.TryRead(out var message))
                {
                    if (frame.WrittenCount > 0)
                    {
                        frame.Write("\n"u8);
                    }
                    frame.Write(message);
                    messages++;
                }
                // Counted before sending: a reply can arrive before SendAsync returns.
                _handler.OnSent(messages);
                await _socket.SendAsync(frame.WrittenMemory, WebSocketMessageType.Text, true, _stop.Token).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException or InvalidOperationException)
        {
            Abort(DisconnectCodes.TransportClosed, "write failed", reconnect: true);
        }
    }

    private void FailPending()
    {
        foreach (var (id, pending) in _pending)
        {
            if (_pending.TryRemove(id, out _))
            {
                pending.Completion.TrySetException(new SwitchboardException(ErrorCodes.ConnectionClosed, "connection closed", temporary: true));
            }
        }
    }

    /// <summary>Closes with a normal close frame (waiting at most <paramref name="timeout"/>), then releases the socket.</summary>
    public async Task CloseAsync(TimeSpan timeout, TimeProvider time)
    {
        if (!_closed.Task.IsCompleted && _socket.State == WebSocketState.Open)
        {
            _outbound.Writer.TryComplete();
            try
            {
                await _writer.ConfigureAwait(false);
                using var cts = new CancellationTokenSource(timeout, time);
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", cts.Token).ConfigureAwait(false);
                // The reader sees the server's close frame and ends.
                await _reader.WaitAsync(timeout, time).ConfigureAwait(false);
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException or TimeoutException or ObjectDisposedException)
            {
                // Best effort: the connection is being dropped anyway.
            }
        }
        await DisposeAsync().ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        Abort(DisconnectCodes.TransportClosed, "transport closed", reconnect: true);
        await _stop.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_reader, _writer).ConfigureAwait(false);
        _socket.Dispose();
        _stop.Dispose();
    }

    private sealed class PendingReply(Action<Reply>? onReply)
    {
        public Action<Reply>? OnReply { get; } = onReply;

        public TaskCompletionSource<Reply> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}

/// <summary>What a <see cref="Transport"/> reports, on its reader loop, in arrival order.</summary>
internal interface ITransportHandler
{
    /// <summary>A frame arrived (any traffic proves the connection alive).</summary>
    void OnFrame();

    /// <summary>A server ping (<c>{}</c>).</summary>
    void OnPing(Transport transport);

    /// <summary>A push.</summary>
    void OnPush(Transport transport, Push push);

    /// <summary>A frame of <paramref name="messages"/> messages is being sent (the writer loop calls this; for the tests' counters).</summary>
    void OnSent(int messages);
}
