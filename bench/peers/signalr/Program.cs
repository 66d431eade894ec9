// Minimal ASP.NET Core SignalR server for the Switchboard benchmark, written the way the SignalR
// documentation shows it: one hub, groups as channels, IHubContext to publish from outside a hub.
//
//   hub:      /hub  (WebSockets only; clients may skip negotiation)
//   join:     invoke "Join" with the group name (a completion answers it)
//   receive:  the client method "pub" with the published data
//   publish:  POST /publish {"group": "...", "data": <any JSON>} → Clients.Group(group).SendAsync("pub", data)
//
// Listens where --urls says (default http://127.0.0.1:5000). Single node, in-memory (no backplane),
// unless env REDIS_URL is set (redis://host:port): then the Redis backplane from
// Microsoft.AspNetCore.SignalR.StackExchangeRedis carries every group send through Redis
// (AddSignalR().AddStackExchangeRedis(connection string), as the SignalR scale-out docs show it).
using System.Text.Json;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR;

var builder = WebApplication.CreateBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
var signalR = builder.Services.AddSignalR();
if (Environment.GetEnvironmentVariable("REDIS_URL") is { Length: > 0 } redisUrl)
{
    // StackExchange.Redis takes "host:port" rather than a redis:// URL.
    var redis = new Uri(redisUrl);
    signalR.AddStackExchangeRedis($"{redis.Host}:{(redis.Port > 0 ? redis.Port : 6379)}");
}

var app = builder.Build();

app.MapHub<BroadcastHub>("/hub", options => options.Transports = HttpTransportType.WebSockets);

app.MapPost("/publish", async (PublishRequest request, IHubContext<BroadcastHub> hub, CancellationToken ct) =>
{
    if (string.IsNullOrEmpty(request.Group))
    {
        return Results.BadRequest(new { error = "group missing" });
    }
    await hub.Clients.Group(request.Group).SendAsync("pub", request.Data, ct);
    return Results.Ok(new { ok = true });
});

app.MapGet("/healthz", () => "ok");

app.Run();

/// <summary>The publish request body: the group (channel) and any JSON value.</summary>
internal sealed record PublishRequest(string Group, JsonElement Data);

/// <summary>Clients join groups; publications come from the HTTP endpoint through IHubContext.</summary>
internal sealed class BroadcastHub : Hub
{
    public Task Join(string group) => Groups.AddToGroupAsync(Context.ConnectionId, group);

    public Task Leave(string group) => Groups.RemoveFromGroupAsync(Context.ConnectionId, group);
}
