using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace Switchboard.FunctionalTests.Transports;

/// <summary><c>/connection/sse</c> with bidirectional emulation, on the shared server.</summary>
[Collection(ServerCollection.Name)]
public sealed class SseTests(ServerFixture server)
{
    [Fact]
    public async Task A_get_with_cf_connect_streams_each_message_as_its_own_data_event()
    {
        await using var client = await StreamClient.ConnectSseAsync(server.BaseAddress);
        Assert.Equal("text/event-stream", client.Response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("no", Assert.Single(client.Response.Headers.GetValues("X-Accel-Buffering")));
        Assert.Equal("sse", server.Node.FindEmulationSession(client.Session)?.TransportName);
        Assert.Equal(server.Node.Uid, client.Node);

        var reply = await client.CallAsync("\"subscribe\":{\"channel\":\"plain:sse-sub\"}");
        Assert.True(reply.TryGetProperty("subscribe", out _), reply.ToString());
        using var api = server.Api();
        await Api.PostAsync(api, "publish", "{\"channel\":\"plain:sse-sub\",\"data\":{\"text\":\"two\\nlines\"}}");
        var push = (await client.NextNonPingAsync())!.Value.GetProperty("push");
        Assert.Equal("two\nlines", push.GetProperty("pub").GetProperty("data").GetProperty("text").GetString());
    }

    [Fact]
    public async Task Messages_written_together_still_arrive_as_separate_events()
    {
        await using var client = await StreamClient.ConnectSseAsync(server.BaseAddress);
        using var response = await client.EmulateAsync("{\"id\":2,\"subscribe\":{\"channel\":\"plain:sse-a\"}}\n{\"id\":3,\"subscribe\":{\"channel\":\"plain:sse-b\"}}");
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal(2, (await client.NextNonPingAsync())!.Value.GetProperty("id").GetInt32());
        Assert.Equal(3, (await client.NextNonPingAsync())!.Value.GetProperty("id").GetInt32());
    }

    [Fact]
    public async Task A_post_with_the_connect_command_as_body_works_like_the_get()
    {
        await using var client = await StreamClient.PostAsync(server.BaseAddress, "/connection/sse", "{\"id\":1,\"connect\":{}}", sse: true);
        Assert.Equal("text/event-stream", client.Response.Content.Headers.ContentType?.MediaType);
        var reply = (await client.NextAsync())!.Value;
        Assert.Matches("^[0-9a-f]{32}$", reply.GetProperty("connect").GetProperty("session").GetString());
    }

    [Fact]
    public async Task A_get_without_one_cf_connect_or_with_too_large_a_one_is_refused()
    {
        using var http = StreamClient.Http(server.BaseAddress);
        http.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        using (var none = await http.GetAsync(new Uri("/connection/sse", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.BadRequest, none.StatusCode);
            Assert.Equal("expected one cf_connect parameter", await none.Content.ReadAsStringAsync());
        }
        using (var two = await http.GetAsync(new Uri("/connection/sse?cf_connect=%7B%7D&cf_connect=%7B%7D", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.BadRequest, two.StatusCode);
        }
        // Kestrel's own request-line limit (8 KB) comes first for a query this long; either way no session opens.
        using var large = await http.GetAsync(new Uri("/connection/sse?cf_connect=" + new string('x', 70 * 1024), UriKind.Relative));
        Assert.True(large.StatusCode is HttpStatusCode.RequestEntityTooLarge or HttpStatusCode.RequestUriTooLong, large.StatusCode.ToString());
        using var put = await http.PutAsync(new Uri("/connection/sse", UriKind.Relative), new StringContent("{}", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.MethodNotAllowed, put.StatusCode);
    }
}
