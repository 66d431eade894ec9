using System.Net;
using System.Text;
using System.Text.Json;

namespace Switchboard.FunctionalTests.Transports;

/// <summary>
/// <c>POST /connection/http_stream</c> with bidirectional emulation, on the shared server:
/// what a raw HTTP client sees on the stream and how the endpoint answers what cannot be a session.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class HttpStreamTests(ServerFixture server)
{
    [Fact]
    public async Task The_connect_reply_comes_as_a_json_line_naming_the_session_and_this_node()
    {
        await using var client = await StreamClient.ConnectHttpStreamAsync(server.BaseAddress);
        Assert.Equal("application/json", client.Response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("no-cache", client.Response.Headers.CacheControl?.ToString() ?? "", StringComparison.Ordinal);
        Assert.Matches("^[0-9a-f]{32}$", client.Session);
        Assert.Equal(server.Node.Uid, client.Node);
        Assert.Equal("http_stream", server.Node.FindEmulationSession(client.Session)?.TransportName);
    }

    [Fact]
    public async Task A_subscription_made_by_emulation_receives_publications_over_the_stream()
    {
        await using var client = await StreamClient.ConnectHttpStreamAsync(server.BaseAddress);
        var reply = await client.CallAsync("\"subscribe\":{\"channel\":\"plain:hs-sub\"}");
        Assert.True(reply.TryGetProperty("subscribe", out _), reply.ToString());

        using var api = server.Api();
        await Api.PostAsync(api, "publish", "{\"channel\":\"plain:hs-sub\",\"data\":{\"n\":7}}");
        var push = (await client.NextNonPingAsync())!.Value.GetProperty("push");
        Assert.Equal("plain:hs-sub", push.GetProperty("channel").GetString());
        Assert.Equal(7, push.GetProperty("pub").GetProperty("data").GetProperty("n").GetInt32());

        // Several commands in one emulation request: handled in order, replies in order.
        using var both = await client.EmulateAsync("{\"id\":10,\"publish\":{\"channel\":\"plain:hs-sub\",\"data\":{\"n\":8}}}\n{\"id\":11,\"unsubscribe\":{\"channel\":\"plain:hs-sub\"}}");
        Assert.Equal(HttpStatusCode.NoContent, both.StatusCode);
        var seen = new List<string>();
        while (seen.Count < 3)
        {
            var message = (await client.NextNonPingAsync())!.Value;
            seen.Add(message.TryGetProperty("id", out var id) ? $"reply {id.GetInt32()}" : $"pub {message.GetProperty("push").GetProperty("pub").GetProperty("data").GetProperty("n").GetInt32()}");
        }
        Assert.Equal(["pub 8", "reply 10", "reply 11"], seen.Order(StringComparer.Ordinal));
        Assert.True(seen.IndexOf("reply 10") < seen.IndexOf("reply 11"));
    }

    [Fact]
    public async Task Commands_by_emulation_follow_the_protocol_rules_a_malformed_one_ends_the_session_with_3501()
    {
        await using var client = await StreamClient.ConnectHttpStreamAsync(server.BaseAddress);
        using var response = await client.EmulateAsync("this is not a command");
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal(3501, await client.DisconnectCodeAsync());
        Assert.Null(server.Node.FindEmulationSession(client.Session));
    }

    [Fact]
    public async Task A_connect_body_that_is_not_the_protocol_gets_a_3501_disconnect_push_and_the_end_of_the_response()
    {
        await using var client = await StreamClient.PostAsync(server.BaseAddress, "/connection/http_stream", "{\"id\":1,\"subscribe\":{\"channel\":\"plain:x\"}}");
        Assert.Equal(HttpStatusCode.OK, client.Response.StatusCode);
        var last = await client.ReadToEndAsync();
        var disconnect = last!.Value.GetProperty("push").GetProperty("disconnect");
        Assert.Equal(3501, disconnect.GetProperty("code").GetInt32());
        Assert.Equal("bad request", disconnect.GetProperty("reason").GetString());
        Assert.False(disconnect.TryGetProperty("reconnect", out _));
    }

    [Fact]
    public async Task Closing_the_request_ends_the_session()
    {
        var client = await StreamClient.ConnectHttpStreamAsync(server.BaseAddress);
        var session = client.Session;
        Assert.NotNull(server.Node.FindEmulationSession(session));
        await client.DisposeAsync();
        await Poll.UntilAsync(() => Task.FromResult(server.Node.FindEmulationSession(session) is null), "session gone");
        using var response = await StreamClient.PostEmulationAsync(server.BaseAddress, $"{{\"session\":\"{session}\",\"node\":\"{server.Node.Uid}\",\"data\":\"{{}}\"}}");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Requests_that_cannot_open_a_session_are_refused_before_one_opens()
    {
        using var http = StreamClient.Http(server.BaseAddress);
        var path = new Uri("/connection/http_stream", UriKind.Relative);
        using (var empty = new StringContent("", Encoding.UTF8, "application/json"))
        {
            using var response = await http.PostAsync(path, empty);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        }
        using (var large = new StringContent("{\"id\":1,\"connect\":{\"data\":\"" + new string('x', 70 * 1024) + "\"}}", Encoding.UTF8, "application/json"))
        {
            using var response = await http.PostAsync(path, large);
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        }
        using (var protobuf = new ByteArrayContent([1, 2, 3]))
        {
            protobuf.Headers.ContentType = new("application/octet-stream");
            using var response = await http.PostAsync(path, protobuf);
            Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        }
        using (var response = await http.GetAsync(path))
        {
            Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
            Assert.Contains("POST", response.Content.Headers.Allow);
        }
    }

    [Fact]
    public async Task A_page_of_another_origin_is_refused_and_an_allowed_origin_gets_cors_headers()
    {
        using var http = StreamClient.Http(server.BaseAddress);
        var own = server.BaseAddress.GetLeftPart(UriPartial.Authority);
        foreach (var path in new[] { "/connection/http_stream", "/connection/sse", "/emulation", "/connection/uni_http_stream", "/connection/uni_sse" })
        {
            using (var foreign = new HttpRequestMessage(HttpMethod.Post, new Uri(path, UriKind.Relative)) { Content = new StringContent("{\"id\":1,\"connect\":{}}") })
            {
                foreign.Headers.Add("Origin", "http://evil.example");
                using var response = await http.SendAsync(foreign);
                Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
            }
            using (var preflight = new HttpRequestMessage(HttpMethod.Options, new Uri(path, UriKind.Relative)))
            {
                preflight.Headers.Add("Origin", "http://evil.example");
                preflight.Headers.Add("Access-Control-Request-Method", "POST");
                using var response = await http.SendAsync(preflight);
                Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
                Assert.False(response.Headers.Contains("Access-Control-Allow-Origin"));
            }
            using (var preflight = new HttpRequestMessage(HttpMethod.Options, new Uri(path, UriKind.Relative)))
            {
                preflight.Headers.Add("Origin", own);
                preflight.Headers.Add("Access-Control-Request-Method", "POST");
                preflight.Headers.Add("Access-Control-Request-Headers", "content-type");
                using var response = await http.SendAsync(preflight);
                Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
                Assert.Equal(own, Assert.Single(response.Headers.GetValues("Access-Control-Allow-Origin")));
                Assert.Equal("true", Assert.Single(response.Headers.GetValues("Access-Control-Allow-Credentials")));
                Assert.Contains("POST", Assert.Single(response.Headers.GetValues("Access-Control-Allow-Methods")), StringComparison.Ordinal);
                Assert.Equal("content-type", Assert.Single(response.Headers.GetValues("Access-Control-Allow-Headers")));
            }
        }

        // The stream itself carries the headers a credentialed cross-origin read needs.
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/connection/http_stream", UriKind.Relative))
        {
            Content = new StringContent("{\"id\":1,\"connect\":{}}", Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("Origin", own);
        using var stream = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, stream.StatusCode);
        Assert.Equal(own, Assert.Single(stream.Headers.GetValues("Access-Control-Allow-Origin")));
        Assert.Equal("true", Assert.Single(stream.Headers.GetValues("Access-Control-Allow-Credentials")));
    }
}
