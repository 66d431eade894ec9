using System.Net.WebSockets;
using System.Threading.Channels;

namespace Switchboard.FunctionalTests.Transports;

/// <summary>
/// A bare WebSocket client of the Protobuf protocol: commands built and replies read with
/// Google.Protobuf (<see cref="ProtoWire"/>), never with the server's codec.
/// </summary>
internal sealed class ProtobufClient : IAsyncDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private readonly ClientWebSocket _socket = new();
    private readonly Channel<Fields> _messages = Channel.CreateUnbounded<Fields>();
    private readonly TaskCompletionSource<int?> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<Fields> _pending = [];
    private uint _nextId;

    public string? SubProtocol => _socket.SubProtocol;

    /// <summary>The kinds of the data messages received (all must be binary).</summary>
    public List<WebSocketMessageType> Kinds { get; } = [];

    public static async Task<ProtobufClient> OpenAsync(Uri webSocketUri)
    {
        var client = new ProtobufClient();
        client._socket.Options.AddSubProtocol("centrifuge-protobuf");
        await client._socket.ConnectAsync(webSocketUri, CancellationToken.None);
        _ = client.ReadLoopAsync();
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
                ValueWebSocketReceiveResult result;
                do
                {
                    result = await _socket.ReceiveAsync(buffer.AsMemory(length), CancellationToken.None);
                    length += result.Count;
                }
                while (!result.EndOfMessage);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    _closed.TrySetResult((int?)_socket.CloseStatus);
                    if (_socket.State == WebSocketState.CloseReceived)
                    {
                        await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
                    }
                    break;
                }
                lock (Kinds)
                {
                    Kinds.Add(result.MessageType);
                }
                foreach (var message in ProtoWire.Unframe(buffer.AsSpan(0, length)))
                {
                    _messages.Writer.TryWrite(message);
                }
            }
        }
        catch (WebSocketException)
        {
            // A close frame may have arrived before the connection broke off.
            _closed.TrySetResult((int?)_socket.CloseStatus);
        }
        _messages.Writer.TryComplete();
    }

    public Task SendAsync(byte[] frame, WebSocketMessageType type = WebSocketMessageType.Binary)
        => _socket.SendAsync(frame, type, true, CancellationToken.None);

    /// <summary>Sends one command (id added) and returns the reply with that id.</summary>
    public async Task<Fields> CommandAsync(params (int Field, object Value)[] request)
    {
        var id = ++_nextId;
        await SendAsync(ProtoWire.Frame(ProtoWire.Msg([(1, id), .. request])));
        return await ReplyAsync(id);
    }

    public async Task<Fields> ReplyAsync(uint id)
    {
        var index = _pending.FindIndex(m => m.U(1) == id);
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
            if (message.U(1) == id && message.Numbers.Any())
            {
                return message;
            }
            _pending.Add(message);
        }
    }

    /// <summary>The next push (field 4 of a reply), in arrival order; server pings are skipped.</summary>
    public async Task<Fields> NextPushAsync()
    {
        while (true)
        {
            Fields message;
            if (_pending.Count > 0)
            {
                message = _pending[0];
                _pending.RemoveAt(0);
            }
            else
            {
                using var cts = new CancellationTokenSource(Timeout);
                message = await _messages.Reader.ReadAsync(cts.Token);
            }
            if (!message.Numbers.Any())
            {
                continue; // a ping
            }
            Assert.True(message.Has(4), "expected a push");
            return message.M(4);
        }
    }

    /// <summary>Messages received and not taken by <see cref="ReplyAsync"/> or <see cref="NextPushAsync"/>.</summary>
    public IReadOnlyList<Fields> Unclaimed => _pending;

    public Task<int?> ClosedAsync() => _closed.Task.WaitAsync(Timeout);

    public async ValueTask DisposeAsync()
    {
        if (_socket.State == WebSocketState.Open)
        {
            try
            {
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
            }
            catch (WebSocketException)
            {
            }
        }
        _socket.Dispose();
    }
}
