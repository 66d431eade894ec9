using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.Options;
using Microsoft.OpenApi;
using Switchboard.Api;
using Switchboard.Auth;
using Switchboard.Channels;
using Switchboard.Protocol;

namespace Switchboard.Server.Api;

/// <summary>
/// Maps <c>POST /api/&lt;method&gt;</c>. Every answer is <c>200 {"result": …}</c> or
/// <c>200 {"error": {code, message}}</c> (or an HTTP status per error, when configured);
/// a missing or wrong API key is 401.
/// </summary>
internal static class ApiEndpoints
{
    private const int MaxBodyBytes = 1024 * 1024;

    public static void MapServerApi(this WebApplication app)
    {
        var api = app.MapGroup("/api").WithTags("Server API").RequireRateLimiting(RateLimitPolicies.Api);
        var ctx = ApiJsonContext.Default;
        Map(api, "publish", "Publish into a channel", ctx.PublishApiRequest, ctx.ApiResponsePublishApiResult, (s, r, ct) => s.PublishAsync(r, ct));
        Map(api, "broadcast", "Publish the same data into several channels", ctx.BroadcastApiRequest, ctx.ApiResponseBroadcastApiResult, (s, r, ct) => s.BroadcastAsync(r, ct));
        Map(api, "subscribe", "Subscribe a user's connections to a channel", ctx.SubscribeApiRequest, ctx.ApiResponseEmptyApiMessage, (s, r, ct) => s.SubscribeAsync(r, ct));
        Map(api, "unsubscribe", "Unsubscribe a user's connections from a channel", ctx.UnsubscribeApiRequest, ctx.ApiResponseEmptyApiMessage, (s, r, ct) => s.UnsubscribeAsync(r, ct));
        Map(api, "disconnect", "Disconnect a user's connections", ctx.DisconnectApiRequest, ctx.ApiResponseEmptyApiMessage, (s, r, ct) => s.DisconnectAsync(r, ct));
        Map(api, "refresh", "Change a user's connection expiry", ctx.RefreshApiRequest, ctx.ApiResponseEmptyApiMessage, (s, r, ct) => s.RefreshAsync(r, ct));
        Map(api, "revoke_token", "Refuse a token, by its jti, on every node", ctx.RevokeTokenApiRequest, ctx.ApiResponseEmptyApiMessage, (s, r, ct) => s.RevokeTokenAsync(r, ct));
        Map(api, "invalidate_user_tokens", "Refuse a user's tokens issued before a time and disconnect the user everywhere", ctx.InvalidateUserTokensApiRequest, ctx.ApiResponseEmptyApiMessage, (s, r, ct) => s.InvalidateUserTokensAsync(r, ct));
        Map(api, "presence", "Who is subscribed to a channel", ctx.ChannelApiRequest, ctx.ApiResponsePresenceApiResult, (s, r, ct) => s.PresenceAsync(r, ct));
        Map(api, "presence_stats", "How many clients and users are in a channel", ctx.ChannelApiRequest, ctx.ApiResponsePresenceStatsApiResult, (s, r, ct) => s.PresenceStatsAsync(r, ct));
        Map(api, "history", "Read a channel's history", ctx.HistoryApiRequest, ctx.ApiResponseHistoryApiResult, (s, r, ct) => s.HistoryAsync(r, ct));
        Map(api, "history_remove", "Remove a channel's history (its epoch and offset stay)", ctx.ChannelApiRequest, ctx.ApiResponseEmptyApiMessage, (s, r, ct) => s.HistoryRemoveAsync(r, ct));
        Map(api, "channels", "Active channels on this node", ctx.ChannelsApiRequest, ctx.ApiResponseChannelsApiResult, (s, r, ct) => s.ChannelsAsync(r, ct));
        Map(api, "info", "The nodes and their counts", ctx.EmptyApiMessage, ctx.ApiResponseInfoApiResult, (s, _, ct) => s.InfoAsync(ct));
        Map(api, "batch", "Several commands in one request", ctx.BatchApiRequest, ctx.ApiResponseBatchApiResult, (s, r, ct) => s.BatchAsync(r, ct));
    }

    private static void Map<TRequest, TResult>(
        RouteGroupBuilder group,
        string method,
        string summary,
        JsonTypeInfo<TRequest> requestType,
        JsonTypeInfo<ApiResponse<TResult>> responseType,
        Func<ServerApi, TRequest, CancellationToken, Task<TResult>> handler)
        where TRequest : notnull, new()
    {
        group.MapPost("/" + method, async (HttpContext http, ServerApi api, IOptions<SwitchboardOptions> options) =>
            {
                var settings = options.Value.Api;
                if (!ApiKey.Matches(http.Request, settings.Key))
                {
                    http.Response.StatusCode = StatusCodes.Status401Unauthorized;
                    return;
                }
                var response = new ApiResponse<TResult>();
                try
                {
                    var request = await ReadBodyAsync(http.Request, requestType).ConfigureAwait(false);
                    response.Result = await handler(api, request, http.RequestAborted).ConfigureAwait(false);
                }
                catch (ProtocolException e)
                {
                    response.Error = e.ToError();
                }
                if (response.Error is { } error && settings.UseHttpStatusCodes)
                {
                    http.Response.StatusCode = StatusFor(error.Code);
                }
                http.Response.ContentType = "application/json";
                await JsonSerializer.SerializeAsync(http.Response.Body, response, responseType, http.RequestAborted).ConfigureAwait(false);
            })
            .WithName(method)
            .WithSummary(summary)
            // The body is read by hand (any content type, errors in the API envelope), so it is
            // described for OpenAPI here rather than with Accepts, which would enforce a content type.
            .AddOpenApiOperationTransformer(async (operation, context, ct) =>
            {
                var schema = await context.GetOrCreateSchemaAsync(typeof(TRequest), null, ct).ConfigureAwait(false);
                operation.RequestBody = new OpenApiRequestBody
                {
                    Required = true,
                    Content = new Dictionary<string, OpenApiMediaType> { ["application/json"] = new() { Schema = schema } },
                };
            })
            .Produces<ApiResponse<TResult>>()
            .Produces(StatusCodes.Status401Unauthorized)
            .Produces(StatusCodes.Status429TooManyRequests);
    }

    private static async Task<TRequest> ReadBodyAsync<TRequest>(HttpRequest request, JsonTypeInfo<TRequest> type)
        where TRequest : notnull, new()
    {
        if (request.ContentLength > MaxBodyBytes)
        {
            throw ProtocolException.BadRequest("request body too large");
        }
        try
        {
            using var limited = new MemoryStream();
            await request.Body.CopyToAsync(limited, request.HttpContext.RequestAborted).ConfigureAwait(false);
            if (limited.Length > MaxBodyBytes)
            {
                throw ProtocolException.BadRequest("request body too large");
            }
            if (limited.Length == 0)
            {
                return new TRequest();
            }
            return JsonSerializer.Deserialize(limited.GetBuffer().AsSpan(0, (int)limited.Length), type)
                ?? throw ProtocolException.BadRequest("request body must be a JSON object");
        }
        catch (JsonException e)
        {
            throw ProtocolException.BadRequest($"invalid JSON{(e.Path is null ? "" : " at " + e.Path)}");
        }
    }

    private static int StatusFor(uint code) => code switch
    {
        ErrorCodes.BadRequest => StatusCodes.Status400BadRequest,
        ErrorCodes.UnknownChannel => StatusCodes.Status404NotFound,
        ErrorCodes.PermissionDenied => StatusCodes.Status403Forbidden,
        ErrorCodes.MethodNotFound => StatusCodes.Status404NotFound,
        ErrorCodes.NotAvailable => StatusCodes.Status400BadRequest,
        ErrorCodes.UnrecoverablePosition => StatusCodes.Status400BadRequest,
        ErrorCodes.TooManyRequests => StatusCodes.Status429TooManyRequests,
        _ => StatusCodes.Status500InternalServerError,
    };
}
