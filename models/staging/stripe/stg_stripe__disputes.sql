-- Stripe disputes of charges: reason (fraudulent, product_not_received, duplicate,
-- subscription_canceled, ...), status (warning_needs_response, needs_response, under_review,
-- won, lost, ...). Stripe's dispute has no closing time: closed_at is the creation of the
-- balance transaction that reinstated the funds (reporting_category dispute_reversal), which
-- only a won dispute has; a lost dispute's closing time is not on the object (null).
with source as (
    {{ select_source_columns('stripe', 'disputes', [
        'id:string', '_dlt_id:string', 'charge:string', 'amount:bigint', 'currency:string',
        'created:bigint', 'reason:string', 'status:string',
    ]) }}
),

balance_transactions as (
    {{ select_source_columns('stripe', 'disputes__balance_transactions', [
        '_dlt_parent_id:string', 'created:bigint', 'reporting_category:string',
        'amount:bigint',
    ]) }}
),

reinstated as (
    select
        _dlt_parent_id,
        max(created) as reinstated_at
    from balance_transactions
    where amount > 0
    group by _dlt_parent_id
),

renamed as (
    select
        'stripe' as source_system,
        {{ make_key('stripe', 'source.id') }} as dispute_key,
        source.id as dispute_id,
        {{ make_key('stripe', 'source.charge') }} as payment_key,
        {{ minor_to_major('source.amount') }} as amount,
        upper(source.currency) as currency,
        lower(coalesce(source.reason, 'general')) as reason,
        lower(source.status) as status,
        {{ unix_to_timestamp('source.created') }} as opened_at,
        case
            when lower(source.status) = 'won'
                then {{ unix_to_timestamp('reinstated.reinstated_at') }}
        end as closed_at
    from source
    left join reinstated
        on source._dlt_id = reinstated._dlt_parent_id
),

final as (
    {{ select_canonical('disputes') }}
)

select * from final
