using System.Net.WebSockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Google.Protobuf;

namespace Switchboard.Bench;

/// <summary>
/// The client transports of Switchboard the transports scenario compares, each a subscriber of one
/// channel written here by hand: WebSocket with JSON (<see cref="SwitchboardSubscriber"/>),
/// WebSocket with Protobuf, HTTP-streaming, SSE (both with emulation requests for what the client
/// sends) and long polling.
/// </summary>
internal static class ClientTransports
{
    public const string WebSocket = "websocket";
    public const string Protobuf = "protobuf";
    public const string HttpStream = "http_stream";
    public const string Sse = "sse";
    public const string LongPoll = "long_poll";

    public static IReadOnlyList<string> Names { get; } = [WebSocket, Protobuf, HttpStream, Sse, LongPoll];

    /// <summary>Whether the transport is a WebSocket (its subscribers take an invoker, the others an <see cref="HttpClient"/>).</summary>
    public static bool IsWebSocket(string transport) => transport is WebSocket or Protobuf;

    /// <summary>
    /// A subscriber of <paramref name="channel"/> over <paramref name="transport"/>; every byte it
    /// reads or writes goes through <paramref name="http"/> (an <see cref="HttpClient"/> for the
    /// HTTP transports, any invoker over a <see cref="SocketsHttpHandler"/> for the WebSockets).
    /// </summary>
    public static Subscriber Create(string transport, int id, RunState run, string channel, HttpMessageInvoker http) => transport switch
    {
        WebSocket => new SwitchboardSubscriber(id, run, channel) { Invoker = http },
        Protobuf => new ProtobufSubscriber(id, run, channel) { Invoker = http },
        HttpStream => new HttpStreamSubscriber(id, run, channel, (HttpClient)http),
        Sse => new SseSubscriber(id, run, channel, (HttpClient)http),
        LongPoll => new LongPollSubscriber(id, run, channel, (HttpClient)http),
        _ => throw new ArgumentException($"unknown transport '{transport}'"),
    };

    /// <summary>The HTTP base address of a server whose WebSocket base is <paramref name="baseUri"/> (ws://host:port).</summary>
    public static Uri HttpBase(Uri baseUri) => new($"http://{baseUri.Authority}");
}

/// <summary>
/// Centrifugo client protocol v2 in Protobuf over a WebSocket (subprotocol
/// <c>centrifuge-protobuf</c>): binary frames of varint-length-delimited <c>Command</c>s and
/// <c>Reply</c>s (field numbers of <c>definitions/client.proto</c>); an empty reply is a ping, an
/// empty command the pong.
/// </summary>
internal sealed class ProtobufSubscriber(int id, RunState run, string channel) : Subscriber(id, run)
{
    // Command: id = 1, connect = 4, subscribe = 5. ConnectRequest: name = 4. SubscribeRequest: channel = 1.
    // Reply: id = 1, error = 2, push = 4, connect = 5, subscribe = 6. Push: channel = 2, pub = 4,
    // disconnect = 11. Publication: data = 4. Error: code = 1, message = 2.
    private static readonly byte[] PongFrame = [0];

    protected override string Path => "/connection/websocket";

    protected override void ConfigureWebSocket(ClientWebSocket ws) => ws.Options.AddSubProtocol("centrifuge-protobuf");

    // Like the JS SDK: connect and the subscribe in one frame, handled in order.
    protected override Task OnOpenAsync() => SendAsync(ConnectAndSubscribe(channel), WebSocketMessageType.Binary);

    protected override async ValueTask OnMessageAsync(ReadOnlyMemory<byte> message)
    {
        if (!MemoryMarshal.TryGetArray(message, out var segment))
        {
            segment = new ArraySegment<byte>(message.ToArray());
        }
        var input = new CodedInputStream(segment.Array!, segment.Offset, segment.Count);
        var pings = 0;
        try
        {
            while (!input.IsAtEnd)
            {
                var length = input.ReadLength();
                if (length == 0)
                {
                    pings++;
                    continue;
                }
                HandleReply(input, input.Position + length);
            }
        }
        catch (InvalidProtocolBufferException e)
        {
            Fail("bad Protobuf frame: " + e.Message);
            return;
        }
        for (var i = 0; i < pings; i++)
        {
            await SendAsync(PongFrame, WebSocketMessageType.Binary);
        }
    }

    private void HandleReply(CodedInputStream input, long end)
    {
        uint id = 0;
        var subscribed = false;
        while (input.Position < end)
        {
            var tag = input.ReadTag();
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case 1:
                    id = input.ReadUInt32();
                    break;
                case 2:
                    Fail("error reply: " + ErrorText(input.ReadBytes()));
                    break;
                case 4:
                    HandlePush(input, End(input));
                    break;
                case 6:
                    input.SkipLastField();
                    subscribed = true;
                    break;
                default:
                    input.SkipLastField();
                    break;
            }
        }
        if (subscribed && id == 2)
        {
            MarkReady();
        }
    }

    private void HandlePush(CodedInputStream input, long end)
    {
        while (input.Position < end)
        {
            var tag = input.ReadTag();
            if (WireFormat.GetTagFieldNumber(tag) == 4)
            {
                HandlePublication(input, End(input));
            }
            else
            {
                input.SkipLastField();
            }
        }
    }

    private void HandlePublication(CodedInputStream input, long end)
    {
        while (input.Position < end)
        {
            var tag = input.ReadTag();
            if (WireFormat.GetTagFieldNumber(tag) == 4)
            {
                // The payload is the publisher's JSON, carried as bytes.
                OnPublication(input.ReadBytes().Span);
            }
            else
            {
                input.SkipLastField();
            }
        }
    }

    /// <summary>Reads a nested message's length and returns where it ends.</summary>
    private static long End(CodedInputStream input)
    {
        var length = input.ReadLength();
        return input.Position + length;
    }

    private static string ErrorText(ByteString error)
    {
        var input = error.CreateCodedInput();
        uint code = 0;
        var message = "";
        while (!input.IsAtEnd)
        {
            var tag = input.ReadTag();
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case 1:
                    code = input.ReadUInt32();
                    break;
                case 2:
                    message = input.ReadString();
                    break;
                default:
                    input.SkipLastField();
                    break;
            }
        }
        return $"{code} {message}";
    }

    internal static byte[] ConnectAndSubscribe(string channel)
    {
        var connectRequest = Message(o =>
        {
            o.WriteTag(4, WireFormat.WireType.LengthDelimited);
            o.WriteString("bench");
        });
        var subscribeRequest = Message(o =>
        {
            o.WriteTag(1, WireFormat.WireType.LengthDelimited);
            o.WriteString(channel);
        });
        var connect = Message(o =>
        {
            o.WriteTag(1, WireFormat.WireType.Varint);
            o.WriteUInt32(1);
            o.WriteTag(4, WireFormat.WireType.LengthDelimited);
            o.WriteBytes(ByteString.CopyFrom(connectRequest));
        });
        var subscribe = Message(o =>
        {
            o.WriteTag(1, WireFormat.WireType.Varint);
            o.WriteUInt32(2);
            o.WriteTag(5, WireFormat.WireType.LengthDelimited);
            o.WriteBytes(ByteString.CopyFrom(subscribeRequest));
        });
        // WriteBytes writes the varint length and then the bytes: exactly the delimited framing.
        return Message(o =>
        {
            o.WriteBytes(ByteString.CopyFrom(connect));
            o.WriteBytes(ByteString.CopyFrom(subscribe));
        });
    }

    private static byte[] Message(Action<CodedOutputStream> write)
    {
        using var ms = new MemoryStream();
        using (var output = new CodedOutputStream(ms, leaveOpen: true))
        {
            write(output);
            output.Flush();
        }
        return ms.ToArray();
    }
}

/// <summary>
/// A subscriber over one of the emulated bidirectional HTTP transports (HTTP-streaming, SSE): the
/// connect command opens a long response carrying replies and pushes as JSON; everything the
/// client sends after it (the subscribe, pongs) goes as <c>POST /emulation</c>
/// <c>{"session","node","data"}</c>, as the JS SDK does.
/// </summary>
internal abstract class EmulatedSubscriber(int id, RunState run, string channel, HttpClient http) : Subscriber(id, run)
{
    protected const string ConnectCommand = "{\"id\":1,\"connect\":{\"name\":\"bench\"}}";

    private CancellationTokenSource? _cts;
    private Uri? _base;
    private string? _session;
    private string? _node;
    private string? _disconnect;

    protected HttpClient Http => http;

    protected override Task OnOpenAsync() => Task.CompletedTask;

    protected override ValueTask OnMessageAsync(ReadOnlyMemory<byte> message) => ValueTask.CompletedTask;

    /// <summary>The request that opens the stream (it carries the connect command).</summary>
    protected abstract HttpRequestMessage OpenRequest(Uri httpBase);

    /// <summary>Reads the stream and hands every message to <see cref="HandleMessage"/> until it ends.</summary>
    protected abstract Task ReadStreamAsync(Stream stream, CancellationToken ct);

    public override async Task ConnectAsync(Uri baseUri, TimeSpan timeout, CancellationToken ct)
    {
        BeginAttempt();
        _base = ClientTransports.HttpBase(baseUri);
        _session = _node = _disconnect = null;
        var life = new CancellationTokenSource();
        var old = Interlocked.Exchange(ref _cts, life);
        old?.Dispose();
        HttpResponseMessage? response = null;
        try
        {
            using var request = OpenRequest(_base);
            // The lifetime token, not a timeout token, goes into the request: the response body is
            // read long after the connect attempt is over.
            response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, life.Token).WaitAsync(timeout, ct);
            if (!response.IsSuccessStatusCode)
            {
                throw new HttpRequestException($"{request.RequestUri!.AbsolutePath} answered {(int)response.StatusCode}");
            }
            var stream = await response.Content.ReadAsStreamAsync(life.Token);
            MarkOpen();
            var owned = response;
            response = null;
            _ = Task.Run(() => ReadLoopAsync(owned, stream, life.Token), CancellationToken.None);
            await WaitJoinedAsync(ct).WaitAsync(timeout, ct);
        }
        catch
        {
            MarkStopped();
            await life.CancelAsync();
            response?.Dispose();
            throw;
        }
    }

    public override async Task CloseAsync()
    {
        MarkStopped();
        if (Volatile.Read(ref _cts) is { } cts)
        {
            await cts.CancelAsync();
        }
    }

    private async Task ReadLoopAsync(HttpResponseMessage response, Stream stream, CancellationToken ct)
    {
        try
        {
            await ReadStreamAsync(stream, ct);
            MarkClosed(_disconnect ?? "stream ended");
        }
        catch (Exception e) when (e is IOException or HttpRequestException or OperationCanceledException or ObjectDisposedException)
        {
            MarkClosed(_disconnect ?? e.Message);
        }
        finally
        {
            response.Dispose();
        }
    }

    /// <summary>One JSON message of the stream: a reply, a push or a ping.</summary>
    protected void HandleMessage(ReadOnlySpan<byte> span)
    {
        if (span.IsEmpty)
        {
            return;
        }
        if (span.SequenceEqual("{}"u8))
        {
            _ = EmulateAsync("{}"); // ping → pong (not awaited: the stream is read on meanwhile)
        }
        else if (span.StartsWith("{\"push\""u8))
        {
            if (span.IndexOf("\"pub\""u8) >= 0)
            {
                OnPublication(span);
            }
            else if (span.IndexOf("\"disconnect\""u8) >= 0)
            {
                _disconnect = "disconnect push: " + Encoding.UTF8.GetString(span);
            }
        }
        else if (span.IndexOf("\"error\""u8) >= 0)
        {
            Fail("error reply: " + Encoding.UTF8.GetString(span));
        }
        else if (span.StartsWith("{\"id\":1,"u8))
        {
            using var doc = JsonDocument.Parse(span.ToArray());
            var connect = doc.RootElement.GetProperty("connect");
            _session = connect.TryGetProperty("session", out var s) ? s.GetString() : null;
            _node = connect.TryGetProperty("node", out var n) ? n.GetString() : null;
            if (_session is null)
            {
                Fail("connect result without a session: " + Encoding.UTF8.GetString(span));
                return;
            }
            _ = EmulateAsync($"{{\"id\":2,\"subscribe\":{{\"channel\":\"{channel}\"}}}}");
        }
        else if (span.StartsWith("{\"id\":2,"u8))
        {
            MarkReady();
        }
    }

    /// <summary>Sends commands (JSON, newline-separated) through <c>POST /emulation</c>.</summary>
    private async Task EmulateAsync(string commands)
    {
        var cts = Volatile.Read(ref _cts);
        if (_base is null || _session is null || cts is null)
        {
            return;
        }
        var body = JsonSerializer.Serialize(new { session = _session, node = _node, data = commands });
        try
        {
            using var content = new StringContent(body, Encoding.UTF8, "application/json");
            using var response = await http.PostAsync(new Uri(_base, "/emulation"), content, cts.Token);
            await response.Content.ReadAsByteArrayAsync(cts.Token);
            if (!response.IsSuccessStatusCode)
            {
                Fail($"emulation answered {(int)response.StatusCode}");
            }
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException or ObjectDisposedException or IOException)
        {
        }
    }
}

/// <summary>HTTP-streaming: <c>POST /connection/http_stream</c> with the connect command; the response is newline-delimited JSON.</summary>
internal sealed class HttpStreamSubscriber(int id, RunState run, string channel, HttpClient http)
    : EmulatedSubscriber(id, run, channel, http)
{
    protected override string Path => "/connection/http_stream";

    protected override HttpRequestMessage OpenRequest(Uri httpBase)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(httpBase, Path))
        {
            Content = new StringContent(ConnectCommand, Encoding.UTF8, "application/json"),
        };
        request.Headers.Accept.ParseAdd("application/json");
        return request;
    }

    protected override async Task ReadStreamAsync(Stream stream, CancellationToken ct)
    {
        var buffer = new byte[16 * 1024];
        var count = 0;
        while (true)
        {
            if (count == buffer.Length)
            {
                Array.Resize(ref buffer, buffer.Length * 2);
            }
            var n = await stream.ReadAsync(buffer.AsMemory(count), ct);
            if (n == 0)
            {
                return;
            }
            count += n;
            var start = 0;
            while (true)
            {
                var nl = buffer.AsSpan(start, count - start).IndexOf((byte)'\n');
                if (nl < 0)
                {
                    break;
                }
                HandleMessage(buffer.AsSpan(start, nl));
                start += nl + 1;
            }
            if (start > 0)
            {
                Buffer.BlockCopy(buffer, start, buffer, 0, count - start);
                count -= start;
            }
        }
    }
}

/// <summary>SSE: <c>GET /connection/sse?cf_connect=…</c>; every <c>data:</c> event is one JSON message.</summary>
internal sealed class SseSubscriber(int id, RunState run, string channel, HttpClient http)
    : EmulatedSubscriber(id, run, channel, http)
{
    protected override string Path => "/connection/sse";

    protected override HttpRequestMessage OpenRequest(Uri httpBase)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, new Uri(httpBase, $"{Path}?cf_connect={Uri.EscapeDataString(ConnectCommand)}"));
        request.Headers.Accept.ParseAdd("text/event-stream");
        return request;
    }

    protected override async Task ReadStreamAsync(Stream stream, CancellationToken ct)
    {
        var buffer = new byte[16 * 1024];
        var count = 0;
        var data = new List<byte>(256);
        var hasData = false;
        while (true)
        {
            if (count == buffer.Length)
            {
                Array.Resize(ref buffer, buffer.Length * 2);
            }
            var n = await stream.ReadAsync(buffer.AsMemory(count), ct);
            if (n == 0)
            {
                return;
            }
            count += n;
            var start = 0;
            while (true)
            {
                var nl = buffer.AsSpan(start, count - start).IndexOf((byte)'\n');
                if (nl < 0)
                {
                    break;
                }
                var line = buffer.AsSpan(start, nl);
                start += nl + 1;
                if (!line.IsEmpty && line[^1] == (byte)'\r')
                {
                    line = line[..^1];
                }
                if (line.IsEmpty)
                {
                    // End of an event: dispatch its data.
                    if (hasData)
                    {
                        HandleMessage(CollectionsMarshal.AsSpan(data));
                    }
                    data.Clear();
                    hasData = false;
                }
                else if (line.StartsWith("data:"u8))
                {
                    var value = line[5..];
                    if (!value.IsEmpty && value[0] == (byte)' ')
                    {
                        value = value[1..];
                    }
                    if (hasData)
                    {
                        data.Add((byte)'\n');
                    }
                    data.AddRange(value);
                    hasData = true;
                }
                // Comments (":…"), event:, id: and retry: lines carry nothing the client needs here.
            }
            if (start > 0)
            {
                Buffer.BlockCopy(buffer, start, buffer, 0, count - start);
                count -= start;
            }
        }
    }
}

/// <summary>
/// Long polling (docs/long-polling.md): a loop of <c>POST /connection/long_poll</c> with the
/// channel's position; each answer carries the publications after it and the next position. The
/// first poll, without a position, gives the starting point at once (that is the "join").
/// </summary>
internal sealed class LongPollSubscriber(int id, RunState run, string channel, HttpClient http) : Subscriber(id, run)
{
    private const int PollTimeoutMs = 25_000;

    private CancellationTokenSource? _cts;
    private string? _epoch;
    private ulong _offset;
    private long _gaps;

    protected override string Path => "/connection/long_poll";

    /// <summary>Answers with <c>recovered: false</c> (the position could not be continued).</summary>
    public long Gaps => Interlocked.Read(ref _gaps);

    protected override Task OnOpenAsync() => Task.CompletedTask;

    protected override ValueTask OnMessageAsync(ReadOnlyMemory<byte> message) => ValueTask.CompletedTask;

    public override async Task ConnectAsync(Uri baseUri, TimeSpan timeout, CancellationToken ct)
    {
        BeginAttempt();
        var url = new Uri(ClientTransports.HttpBase(baseUri), Path);
        var life = new CancellationTokenSource();
        var old = Interlocked.Exchange(ref _cts, life);
        old?.Dispose();
        try
        {
            _epoch = null;
            var first = await PollAsync(url, $"{{\"channels\":{{\"{channel}\":{{}}}},\"timeout_ms\":0}}", life.Token).WaitAsync(timeout, ct);
            Deliver(first);
            if (_epoch is null)
            {
                throw new InvalidOperationException("first poll without a position: " + Encoding.UTF8.GetString(first));
            }
            MarkOpen();
            MarkReady();
            _ = Task.Run(() => LoopAsync(url, life.Token), CancellationToken.None);
        }
        catch
        {
            MarkStopped();
            await life.CancelAsync();
            throw;
        }
    }

    public override async Task CloseAsync()
    {
        MarkStopped();
        if (Volatile.Read(ref _cts) is { } cts)
        {
            await cts.CancelAsync();
        }
    }

    private async Task LoopAsync(Uri url, CancellationToken ct)
    {
        try
        {
            while (!ct.IsCancellationRequested)
            {
                var body = $"{{\"channels\":{{\"{channel}\":{{\"epoch\":\"{_epoch}\",\"offset\":{_offset}}}}},\"timeout_ms\":{PollTimeoutMs}}}";
                Deliver(await PollAsync(url, body, ct));
            }
            MarkStopped();
        }
        catch (Exception e) when (e is IOException or HttpRequestException or OperationCanceledException or ObjectDisposedException or JsonException)
        {
            MarkClosed(e.Message);
        }
    }

    private async Task<byte[]> PollAsync(Uri url, string body, CancellationToken ct)
    {
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        using var response = await http.PostAsync(url, content, ct);
        var answer = await response.Content.ReadAsByteArrayAsync(ct);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"long poll answered {(int)response.StatusCode}: {Encoding.UTF8.GetString(answer)}");
        }
        return answer;
    }

    /// <summary>Records the answer's publications (in order) and takes its position for the next poll.</summary>
    private void Deliver(ReadOnlySpan<byte> answer)
    {
        // {"channels":{"<ch>":{"epoch":…,"offset":…,"recovered":…,"publications":[{"data":…,"offset":…},…]}}}
        var reader = new Utf8JsonReader(answer);
        while (reader.Read())
        {
            if (reader.TokenType != JsonTokenType.PropertyName)
            {
                continue;
            }
            switch (reader.CurrentDepth)
            {
                case 3 when reader.ValueTextEquals("epoch"u8):
                    reader.Read();
                    _epoch = reader.GetString();
                    break;
                case 3 when reader.ValueTextEquals("offset"u8):
                    reader.Read();
                    _offset = reader.GetUInt64();
                    break;
                case 3 when reader.ValueTextEquals("recovered"u8):
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.False)
                    {
                        Interlocked.Increment(ref _gaps);
                    }
                    break;
                case 5 when reader.ValueTextEquals("data"u8):
                    reader.Read();
                    var start = (int)reader.TokenStartIndex;
                    reader.Skip();
                    OnPublication(answer[start..(int)reader.BytesConsumed]);
                    break;
                default:
                    break;
            }
        }
    }
}
