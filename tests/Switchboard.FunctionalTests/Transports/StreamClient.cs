using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Switchboard.FunctionalTests.Transports;

/// <summary>
/// A raw client of the HTTP streaming transports: holds the response open and reads its messages
/// one by one (lines of HTTP-streaming, <c>data:</c> events of SSE), and sends emulation requests
/// for its session. Asserts nothing itself.
/// </summary>
internal sealed class StreamClient : IAsyncDisposable
{
    private static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(10);

    private readonly HttpClient _http;
    private readonly StreamReader _reader;
    private readonly bool _sse;
    private int _nextId = 1;

    private StreamClient(HttpClient http, HttpResponseMessage response, StreamReader reader, bool sse)
    {
        _http = http;
        Response = response;
        _reader = reader;
        _sse = sse;
    }

    public HttpResponseMessage Response { get; }

    /// <summary>The session and node of the connect result (bidirectional transports).</summary>
    public string Session { get; private set; } = "";

    public string Node { get; private set; } = "";

    public static HttpClient Http(Uri baseAddress) => new() { BaseAddress = baseAddress, Timeout = Timeout.InfiniteTimeSpan };

    /// <summary>POSTs <paramref name="body"/> to a streaming endpoint and returns once the response headers are in.</summary>
    public static Task<StreamClient> PostAsync(Uri baseAddress, string path, string body, bool sse = false)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(path, UriKind.Relative))
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        return SendAsync(baseAddress, request, sse);
    }

    /// <summary>GETs an SSE endpoint with the connect command in <c>cf_connect</c>.</summary>
    public static Task<StreamClient> GetSseAsync(Uri baseAddress, string path, string connect)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, new Uri($"{path}?cf_connect={Uri.EscapeDataString(connect)}", UriKind.Relative));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        return SendAsync(baseAddress, request, sse: true);
    }

    private static async Task<StreamClient> SendAsync(Uri baseAddress, HttpRequestMessage request, bool sse)
    {
        var http = Http(baseAddress);
        var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        request.Dispose();
        var stream = await response.Content.ReadAsStreamAsync();
        return new StreamClient(http, response, new StreamReader(stream, Encoding.UTF8), sse);
    }

    /// <summary>Opens an HTTP-streaming session and reads its connect reply.</summary>
    public static async Task<StreamClient> ConnectHttpStreamAsync(Uri baseAddress, string connect = "{}")
    {
        var client = await PostAsync(baseAddress, "/connection/http_stream", $"{{\"id\":1,\"connect\":{connect}}}");
        await client.ReadConnectAsync();
        return client;
    }

    /// <summary>Opens an SSE session (GET with cf_connect) and reads its connect reply.</summary>
    public static async Task<StreamClient> ConnectSseAsync(Uri baseAddress, string connect = "{}")
    {
        var client = await GetSseAsync(baseAddress, "/connection/sse", $"{{\"id\":1,\"connect\":{connect}}}");
        await client.ReadConnectAsync();
        return client;
    }

    private async Task ReadConnectAsync()
    {
        Assert.Equal(HttpStatusCode.OK, Response.StatusCode);
        var reply = await NextAsync() ?? throw new InvalidOperationException("the stream ended before the connect reply");
        Assert.True(reply.TryGetProperty("connect", out var result), reply.ToString());
        Session = result.GetProperty("session").GetString()!;
        Node = result.GetProperty("node").GetString()!;
        _nextId = 2;
    }

    /// <summary>The next message from the server; null when the response has ended.</summary>
    public async Task<JsonElement?> NextAsync()
    {
        while (true)
        {
            var line = await _reader.ReadLineAsync().WaitAsync(ReadTimeout);
            if (line is null)
            {
                return null;
            }
            if (_sse)
            {
                if (!line.StartsWith("data: ", StringComparison.Ordinal))
                {
                    continue; // the blank line ending an event, or a comment
                }
                line = line["data: ".Length..];
            }
            if (line.Length == 0)
            {
                continue;
            }
            return JsonDocument.Parse(line).RootElement.Clone();
        }
    }

    /// <summary>The next message that is not a server ping.</summary>
    public async Task<JsonElement?> NextNonPingAsync()
    {
        while (true)
        {
            var message = await NextAsync();
            if (message is not { } m || m.ValueKind != JsonValueKind.Object || m.EnumerateObject().Any())
            {
                return message;
            }
        }
    }

    /// <summary>Reads until the end of the response; returns the last message (the disconnect push, if any).</summary>
    public async Task<JsonElement?> ReadToEndAsync()
    {
        JsonElement? last = null;
        while (await NextAsync() is { } message)
        {
            last = message;
        }
        return last;
    }

    /// <summary>Reads until the end of the response and returns the code of the disconnect push that came last.</summary>
    public async Task<int> DisconnectCodeAsync(bool unidirectional = false)
    {
        var last = await ReadToEndAsync() ?? throw new InvalidOperationException("the stream ended with no message");
        var disconnect = unidirectional ? last : last.GetProperty("push");
        return disconnect.GetProperty("disconnect").GetProperty("code").GetInt32();
    }

    /// <summary>POSTs an emulation request with this session's id and node to <paramref name="baseAddress"/> (any node).</summary>
    public Task<HttpResponseMessage> EmulateAsync(string data, Uri? baseAddress = null)
        => PostEmulationAsync(baseAddress ?? _http.BaseAddress!, JsonSerializer.Serialize(new Dictionary<string, string>
        {
            ["session"] = Session,
            ["node"] = Node,
            ["data"] = data,
        }));

    /// <summary>Sends one command (<c>"method":{…}</c>) by emulation; returns its id.</summary>
    public async Task<int> CommandAsync(string command, Uri? baseAddress = null)
    {
        var id = _nextId++;
        using var response = await EmulateAsync($"{{\"id\":{id},{command}}}", baseAddress);
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        return id;
    }

    /// <summary>Sends a command by emulation and reads until its reply (pushes and pings before it are skipped).</summary>
    public async Task<JsonElement> CallAsync(string command, Uri? baseAddress = null)
    {
        var id = await CommandAsync(command, baseAddress);
        while (true)
        {
            var message = await NextAsync() ?? throw new InvalidOperationException("the stream ended before the reply");
            if (message.TryGetProperty("id", out var replyId) && replyId.GetInt32() == id)
            {
                return message;
            }
        }
    }

    public static async Task<HttpResponseMessage> PostEmulationAsync(Uri baseAddress, string body, string contentType = "application/json")
    {
        using var http = Http(baseAddress);
        using var content = new StringContent(body, Encoding.UTF8, contentType);
        return await http.PostAsync(new Uri("/emulation", UriKind.Relative), content);
    }

    public ValueTask DisposeAsync()
    {
        _reader.Dispose();
        Response.Dispose();
        _http.Dispose();
        return ValueTask.CompletedTask;
    }
}
